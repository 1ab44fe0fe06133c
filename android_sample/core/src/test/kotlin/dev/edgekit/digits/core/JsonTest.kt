package dev.edgekit.digits.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.fail
import org.junit.Test

class JsonTest {
    @Test
    fun parsesNestedValuesKeepingKeyOrder() {
        val value = Json.parse(""" { "b": [1, 2.5, -3e2, true, false, null], "a": {"x": "y"}, "c": [] } """)
        val map = value as Map<*, *>
        assertEquals(listOf("b", "a", "c"), map.keys.toList())
        assertEquals(listOf(1.0, 2.5, -300.0, true, false, null), map["b"])
        assertEquals(mapOf("x" to "y"), map["a"])
        assertEquals(emptyList<Any?>(), map["c"])
    }

    @Test
    fun parsesNumbersAsPythonWritesThem() {
        assertEquals(0.00392156862745098, Json.parse("0.00392156862745098"))
        assertEquals(1e-05, Json.parse("1e-05"))
        assertEquals(-128.0, Json.parse("-128"))
        assertEquals(1.5E+10, Json.parse("1.5E+10"))
        assertEquals(-0.0, Json.parse("-0"))
    }

    @Test
    fun decodesEscapes() {
        assertEquals("a\"b\\c/d\b\u000C\n\r\t", Json.parse(""""a\"b\\c\/d\b\f\n\r\t""""))
        assertEquals("caf\u00e9", Json.parse("\"caf\\u00E9\""))
        // U+1F600 arrives as a surrogate pair and must come back as one code point.
        val emoji = Json.parse("\"\\ud83d\\ude00\"") as String
        assertEquals(0x1F600, emoji.codePointAt(0))
        assertEquals(2, emoji.length)
    }

    @Test
    fun readsNullAtTopLevel() {
        assertNull(Json.parse(" null "))
    }

    @Test
    fun rejectsInvalidJson() {
        val invalid = listOf(
            "", "{", "[1 2]", "[1,]", "{\"a\":1,}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1",
            "\"abc", "tru", "nul", "{} x", "\"tab\there\"", "\"\\x\"", "\"\\u12\"", "NaN", "[1]]"
        )
        for (text in invalid) {
            try {
                Json.parse(text)
                fail("accepted invalid JSON: $text")
            } catch (expected: JsonException) {
            }
        }
    }
}
