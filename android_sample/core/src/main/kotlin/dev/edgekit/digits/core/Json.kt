package dev.edgekit.digits.core

/** Thrown when a text is not valid JSON; the message says where. */
class JsonException(message: String) : IllegalArgumentException(message)

/**
 * A small, strict JSON reader (RFC 8259), so the core needs no library.
 *
 * Values come back as plain Kotlin types: `Map<String, Any?>` (key order kept), `List<Any?>`, `String`,
 * `Double` for every number, `Boolean` and `null`.
 */
object Json {
    fun parse(text: String): Any? {
        val reader = Reader(text)
        reader.skipWhitespace()
        val value = reader.readValue()
        reader.skipWhitespace()
        if (!reader.atEnd()) throw reader.error("unexpected text after the JSON value")
        return value
    }

    private class Reader(private val text: String) {
        private var pos = 0

        fun atEnd() = pos >= text.length

        fun error(what: String) = JsonException("$what at offset $pos")

        fun skipWhitespace() {
            while (pos < text.length && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) {
                pos++
            }
        }

        fun readValue(): Any? {
            if (atEnd()) throw error("unexpected end of input")
            return when (text[pos]) {
                '{' -> readObject()
                '[' -> readArray()
                '"' -> readString()
                't' -> readLiteral("true", true)
                'f' -> readLiteral("false", false)
                'n' -> readLiteral("null", null)
                else -> readNumber()
            }
        }

        private fun readLiteral(word: String, value: Any?): Any? {
            if (!text.startsWith(word, pos)) throw error("invalid literal")
            pos += word.length
            return value
        }

        private fun expect(c: Char) {
            if (atEnd() || text[pos] != c) throw error("expected '$c'")
            pos++
        }

        private fun readObject(): Map<String, Any?> {
            val result = LinkedHashMap<String, Any?>()
            expect('{')
            skipWhitespace()
            if (!atEnd() && text[pos] == '}') {
                pos++
                return result
            }
            while (true) {
                skipWhitespace()
                if (atEnd() || text[pos] != '"') throw error("expected a string key")
                val key = readString()
                skipWhitespace()
                expect(':')
                skipWhitespace()
                result[key] = readValue()
                skipWhitespace()
                if (atEnd()) throw error("unterminated object")
                if (text[pos] == '}') {
                    pos++
                    return result
                }
                expect(',')
            }
        }

        private fun readArray(): List<Any?> {
            val result = ArrayList<Any?>()
            expect('[')
            skipWhitespace()
            if (!atEnd() && text[pos] == ']') {
                pos++
                return result
            }
            while (true) {
                skipWhitespace()
                result.add(readValue())
                skipWhitespace()
                if (atEnd()) throw error("unterminated array")
                if (text[pos] == ']') {
                    pos++
                    return result
                }
                expect(',')
            }
        }

        private fun readString(): String {
            expect('"')
            val out = StringBuilder()
            while (true) {
                if (atEnd()) throw error("unterminated string")
                val c = text[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> out.append(readEscape())
                    c < ' ' -> {
                        pos--
                        throw error("control character in string")
                    }
                    else -> out.append(c)
                }
            }
        }

        private fun readEscape(): Char {
            if (atEnd()) throw error("unterminated escape")
            return when (text[pos++]) {
                '"' -> '"'
                '\\' -> '\\'
                '/' -> '/'
                'b' -> '\b'
                'f' -> '\u000C'
                'n' -> '\n'
                'r' -> '\r'
                't' -> '\t'
                // A character outside the BMP arrives as two \u escapes (a surrogate pair); appending both
                // UTF-16 units in order rebuilds it, so no pairing logic is needed.
                'u' -> {
                    if (pos + 4 > text.length) throw error("short \\u escape")
                    var code = 0
                    for (i in 0 until 4) {
                        val digit = Character.digit(text[pos + i], 16)
                        if (digit < 0) throw error("invalid \\u escape")
                        code = code * 16 + digit
                    }
                    pos += 4
                    code.toChar()
                }
                else -> {
                    pos--
                    throw error("invalid escape")
                }
            }
        }

        private fun readNumber(): Double {
            val start = pos
            if (peek('-')) pos++
            if (peek('0')) {
                pos++
            } else if (!skipDigits()) {
                throw error("invalid value")
            }
            if (peek('.')) {
                pos++
                if (!skipDigits()) throw error("expected digits after '.'")
            }
            if (peek('e') || peek('E')) {
                pos++
                if (peek('+') || peek('-')) pos++
                if (!skipDigits()) throw error("expected digits in exponent")
            }
            return text.substring(start, pos).toDouble()
        }

        private fun peek(c: Char) = pos < text.length && text[pos] == c

        private fun skipDigits(): Boolean {
            val start = pos
            while (pos < text.length && text[pos] in '0'..'9') pos++
            return pos > start
        }
    }
}
