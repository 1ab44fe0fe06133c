package dev.edgekit.digits.core

/** Thrown when contract.json is missing a field, or describes a model this app cannot feed. */
class ContractException(message: String) : IllegalArgumentException(message)

/** Element types of model inputs and outputs that the app can read and write. */
enum class DType(val jsonName: String, val byteSize: Int, val minValue: Int, val maxValue: Int) {
    FLOAT32("float32", 4, 0, 0),
    INT8("int8", 1, -128, 127),
    UINT8("uint8", 1, 0, 255);

    val isInteger: Boolean get() = this != FLOAT32

    companion object {
        fun fromJson(name: String): DType =
            values().firstOrNull { it.jsonName == name }
                ?: throw ContractException("unsupported dtype '$name' (expected float32, int8 or uint8)")
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

/** How pixels become model inputs: input = rangeMin + pixel / divideBy, for pixel values 0..255. */
data class Normalization(val divideBy: Double, val rangeMin: Double, val rangeMax: Double)

enum class OutputKind { PROBABILITIES, LOGITS }

/** The model contract that edgekit writes beside every artifact (contract.json): everything the app needs to know. */
data class ModelContract(
    val name: String,
    val format: String,
    val variant: String,
    val mainFile: String,
    val input: TensorSpec,
    val output: TensorSpec,
    val outputKind: OutputKind,
    val normalization: Normalization,
    val labels: List<String>,
    val sha256: String
) {
    companion object {
        const val SUPPORTED_VERSION = 1

        /** Parses and checks contract.json; throws [ContractException] (or [JsonException]) with a one-line reason. */
        fun parse(text: String): ModelContract {
            val root = Json.parse(text) as? Map<*, *> ?: throw ContractException("contract.json is not a JSON object")
            val version = root.number("edgekit_contract").toInt()
            if (version != SUPPORTED_VERSION) {
                throw ContractException("contract version $version is not supported (this app reads $SUPPORTED_VERSION)")
            }
            val normalization = root.obj("normalization")
            val range = normalization.list("range")
            if (range.size != 2) throw ContractException("normalization.range must be [min, max]")
            val contract = ModelContract(
                name = root.string("name"),
                format = root.string("format"),
                variant = root.string("variant"),
                mainFile = root.string("main_file"),
                input = tensor(root.obj("input"), "input"),
                output = tensor(root.obj("output"), "output"),
                outputKind = when (val kind = root.string("output_kind")) {
                    "probabilities" -> OutputKind.PROBABILITIES
                    "logits" -> OutputKind.LOGITS
                    else -> throw ContractException("unknown output_kind '$kind'")
                },
                normalization = Normalization(
                    divideBy = normalization.number("divide_by"),
                    rangeMin = range[0] as? Double ?: throw ContractException("normalization.range holds non-numbers"),
                    rangeMax = range[1] as? Double ?: throw ContractException("normalization.range holds non-numbers")
                ),
                labels = root.list("labels").map { it as? String ?: throw ContractException("labels must be strings") },
                sha256 = root.string("sha256")
            )
            contract.check()
            return contract
        }

        private fun tensor(spec: Map<*, *>, where: String): TensorSpec {
            val shape = spec.list("shape").map {
                val d = it as? Double
                if (d == null || d < 1 || d != Math.floor(d)) throw ContractException("$where.shape must hold positive integers")
                d.toInt()
            }
            val dtype = DType.fromJson(spec.string("dtype"))
            if (!dtype.isInteger) return TensorSpec(shape, dtype, null, null)
            val scale = spec.number("scale")
            val zeroPoint = spec.number("zero_point")
            if (!(scale > 0.0) || scale.isInfinite()) throw ContractException("$where.scale must be positive, got $scale")
            if (zeroPoint != Math.floor(zeroPoint) || zeroPoint < dtype.minValue || zeroPoint > dtype.maxValue) {
                throw ContractException("$where.zero_point $zeroPoint is not a ${dtype.jsonName} value")
            }
            return TensorSpec(shape, dtype, scale, zeroPoint.toInt())
        }

        private fun Map<*, *>.field(key: String): Any =
            this[key] ?: throw ContractException("contract.json has no '$key'")

        private fun Map<*, *>.string(key: String) =
            field(key) as? String ?: throw ContractException("'$key' must be a string")

        private fun Map<*, *>.number(key: String) =
            field(key) as? Double ?: throw ContractException("'$key' must be a number")

        private fun Map<*, *>.obj(key: String) =
            field(key) as? Map<*, *> ?: throw ContractException("'$key' must be an object")

        private fun Map<*, *>.list(key: String) =
            field(key) as? List<*> ?: throw ContractException("'$key' must be an array")
    }

    private fun check() {
        val pixels = DigitPreprocessor.SIZE * DigitPreprocessor.SIZE
        if (input.elementCount != pixels) {
            throw ContractException(
                "input shape ${input.shape} holds ${input.elementCount} values; the digit preprocessing makes $pixels"
            )
        }
        if (output.elementCount != labels.size) {
            throw ContractException("output shape ${output.shape} does not match the ${labels.size} labels")
        }
        val n = normalization
        if (!(n.divideBy > 0.0) || Math.abs(n.rangeMin + 255.0 / n.divideBy - n.rangeMax) > 1e-6) {
            throw ContractException(
                "normalization divide_by ${n.divideBy} does not map pixels 0..255 onto [${n.rangeMin}, ${n.rangeMax}]"
            )
        }
    }
}
