package dev.edgekit.digits.core

import com.google.gson.Gson
import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.google.gson.JsonParseException
import com.google.gson.stream.JsonReader
import com.google.gson.stream.JsonToken
import java.io.IOException
import java.io.StringReader

/** Thrown when contract.json is not JSON, is missing a field, or describes a model this app cannot feed. */
class ContractException(message: String) : IllegalArgumentException(message)

/** Element types of model inputs and outputs that the app can read and write. */
enum class DType(val jsonName: String, val byteSize: Int, val minValue: Int, val maxValue: Int) {
    FLOAT32("float32", 4, 0, 0),
    INT8("int8", 1, -128, 127),
    UINT8("uint8", 1, 0, 255),

    // int16 activations (the LiteRT quantizer's int16x8 files, or an int16 output head): two bytes, native order.
    INT16("int16", 2, -32768, 32767);

    val isInteger: Boolean get() = this != FLOAT32

    companion object {
        fun fromJson(name: String): DType = values().firstOrNull { it.jsonName == name }
            ?: throw ContractException("unsupported dtype '$name' (expected float32, int8, uint8 or int16)")
    }
}

/**
 * One model tensor. [shape] excludes the batch dimension. Integer tensors carry their affine quantization:
 * real = scale * (q - zeroPoint).
 */
data class TensorSpec(val shape: List<Int>, val dtype: DType, val scale: Double?, val zeroPoint: Int?) {
    val elementCount: Int get() = shape.fold(1) { n, d -> n * d }
    val byteSize: Int get() = elementCount * dtype.byteSize
}

/** The picture a model's input holds, whatever the input's shape: height x width x channels (1 or 3). */
data class ImageSpec(val height: Int, val width: Int, val channels: Int) {
    val pixels: Int get() = height * width
}

/**
 * How pixels become model values, per channel: value = pixel (0..255) * scale[c] + offset[c].
 * [kind] names it (unit, symmetric, raw, mean_std) for people; the numbers are what the app applies.
 */
data class Normalization(val kind: String, val scale: List<Double>, val offset: List<Double>)

enum class OutputKind { PROBABILITIES, LOGITS }

/**
 * The model contract that edgekit writes beside every artifact (contract.json): everything the app needs to know.
 * Version 1 contracts (no image, divide_by/range normalization) read as a 28x28x1 picture, unit normalization.
 */
data class ModelContract(
    val name: String,
    val format: String,
    val variant: String,
    val mainFile: String,
    val image: ImageSpec,
    val input: TensorSpec,
    val output: TensorSpec,
    val outputKind: OutputKind,
    val normalization: Normalization,
    val labels: List<String>,
    val sha256: String
) {
    companion object {
        val SUPPORTED_VERSIONS = listOf(1, 2)

        // What version 1 implied: edgekit's MNIST picture.
        private val V1_IMAGE = ImageSpec(28, 28, 1)

        /** Parses and checks contract.json; throws [ContractException] with a one-line reason. */
        fun parse(text: String): ModelContract {
            val root = parseJson(text) as? JsonObject ?: throw ContractException("contract.json is not a JSON object")
            val version = root.int("edgekit_contract")
            if (version !in SUPPORTED_VERSIONS) {
                throw ContractException("contract version $version is not supported (this app reads $SUPPORTED_VERSIONS)")
            }
            val image = if (version == 1) V1_IMAGE else image(root.obj("image"))
            val contract =
                ModelContract(
                    name = root.string("name"),
                    format = root.string("format"),
                    variant = root.string("variant"),
                    mainFile = root.string("main_file"),
                    image = image,
                    input = tensor(root.obj("input"), "input"),
                    output = tensor(root.obj("output"), "output"),
                    outputKind =
                        when (val kind = root.string("output_kind")) {
                            "probabilities" -> OutputKind.PROBABILITIES
                            "logits" -> OutputKind.LOGITS
                            else -> throw ContractException("unknown output_kind '$kind'")
                        },
                    normalization = normalization(root.obj("normalization"), version, image.channels),
                    labels = root.list("labels").map { it.asStringOrNull() ?: throw ContractException("labels must be strings") },
                    sha256 = root.string("sha256")
                )
            contract.check()
            return contract
        }

        /** Strict JSON (no comments, no unquoted names, nothing after the value), unlike Gson's lenient default. */
        internal fun parseJson(text: String): JsonElement {
            val reader = JsonReader(StringReader(text))
            try {
                val value = Gson().getAdapter(JsonElement::class.java).read(reader)
                if (reader.peek() != JsonToken.END_DOCUMENT) throw ContractException("contract.json has data after its value")
                return value
            } catch (e: IOException) {
                throw ContractException("contract.json is not valid JSON: ${e.message}")
            } catch (e: IllegalStateException) {
                throw ContractException("contract.json is not valid JSON: ${e.message}")
            } catch (e: JsonParseException) {
                throw ContractException("contract.json is not valid JSON: ${e.message}")
            }
        }

        private fun image(spec: JsonObject): ImageSpec {
            val image = ImageSpec(spec.int("height"), spec.int("width"), spec.int("channels"))
            if (image.height < 1 || image.width < 1) throw ContractException("image must have a positive height and width")
            if (image.channels != 1 && image.channels != 3) throw ContractException("image has ${image.channels} channels, not 1 or 3")
            return image
        }

        private fun normalization(spec: JsonObject, version: Int, channels: Int): Normalization {
            if (version == 1) {
                // value = range[0] + pixel / divide_by
                val divideBy = spec.double("divide_by")
                val range = spec.list("range").map {
                    it.asDoubleOrNull() ?: throw ContractException("normalization.range holds non-numbers")
                }
                if (!(divideBy > 0.0) ||
                    range.size != 2
                ) {
                    throw ContractException("normalization needs a positive divide_by and a [min, max] range")
                }
                return Normalization("unit", List(channels) { 1.0 / divideBy }, List(channels) { range[0] })
            }
            fun perChannel(key: String): List<Double> {
                val values = spec.list(key).map { it.asDoubleOrNull() ?: throw ContractException("normalization.$key holds non-numbers") }
                if (values.size != 1 && values.size != channels) {
                    throw ContractException("normalization.$key must hold one number or one per channel ($channels)")
                }
                if (values.any { it.isNaN() || it.isInfinite() }) throw ContractException("normalization.$key must be finite")
                return if (values.size == 1) List(channels) { values[0] } else values
            }
            return Normalization(spec.string("kind"), perChannel("scale"), perChannel("offset"))
        }

        private fun tensor(spec: JsonObject, where: String): TensorSpec {
            val shape =
                spec.list("shape").map {
                    val d = it.asDoubleOrNull()
                    if (d == null || d < 1 || d != Math.floor(d)) throw ContractException("$where.shape must hold positive integers")
                    d.toInt()
                }
            val dtype = DType.fromJson(spec.string("dtype"))
            if (!dtype.isInteger) return TensorSpec(shape, dtype, null, null)
            val scale = spec.double("scale")
            val zeroPoint = spec.double("zero_point")
            if (!(scale > 0.0) || scale.isInfinite()) throw ContractException("$where.scale must be positive, got $scale")
            if (zeroPoint != Math.floor(zeroPoint) || zeroPoint < dtype.minValue || zeroPoint > dtype.maxValue) {
                throw ContractException("$where.zero_point $zeroPoint is not a ${dtype.jsonName} value")
            }
            return TensorSpec(shape, dtype, scale, zeroPoint.toInt())
        }

        private fun JsonElement.asDoubleOrNull(): Double? = if (isJsonPrimitive && asJsonPrimitive.isNumber) asDouble else null

        private fun JsonElement.asStringOrNull(): String? = if (isJsonPrimitive && asJsonPrimitive.isString) asString else null

        private fun JsonObject.field(key: String): JsonElement {
            val value = get(key)
            if (value == null || value.isJsonNull) throw ContractException("contract.json has no '$key'")
            return value
        }

        private fun JsonObject.string(key: String) = field(key).asStringOrNull() ?: throw ContractException("'$key' must be a string")

        private fun JsonObject.double(key: String) = field(key).asDoubleOrNull() ?: throw ContractException("'$key' must be a number")

        private fun JsonObject.int(key: String): Int {
            val value = double(key)
            if (value != Math.floor(value) || Math.abs(value) > Int.MAX_VALUE) throw ContractException("'$key' must be an integer")
            return value.toInt()
        }

        private fun JsonObject.obj(key: String) =
            field(key).let { if (it.isJsonObject) it.asJsonObject else throw ContractException("'$key' must be an object") }

        private fun JsonObject.list(key: String) =
            field(key).let { if (it.isJsonArray) it.asJsonArray.toList() else throw ContractException("'$key' must be an array") }
    }

    private fun check() {
        val values = image.pixels * image.channels
        if (input.elementCount != values) {
            throw ContractException(
                "input shape ${input.shape} holds ${input.elementCount} values, not a ${image.height}x${image.width}x${image.channels} image"
            )
        }
        if (labels.size < 2 || output.elementCount != labels.size) {
            throw ContractException("output shape ${output.shape} does not match the ${labels.size} labels")
        }
    }
}
