package dev.edgekit.digits.core

import kotlin.math.exp
import kotlin.math.floor

/**
 * Affine (de)quantization as TFLite defines it, real = scale * (q - zeroPoint), plus softmax and top-k.
 * Matches edgekit's Python reference (toolkit/pixels/tensors.py) value for value.
 */
object Quantization {
    /** Real values to integers of [dtype], rounding half up (floor(x / scale + 0.5)) and clipping to its range. */
    fun quantize(values: FloatArray, scale: Double, zeroPoint: Int, dtype: DType): IntArray {
        require(dtype.isInteger) { "cannot quantize to ${dtype.jsonName}" }
        return IntArray(values.size) {
            val q = floor(values[it].toDouble() / scale + 0.5) + zeroPoint
            q.coerceIn(dtype.minValue.toDouble(), dtype.maxValue.toDouble()).toInt()
        }
    }

    /** Integers back to real values. */
    fun dequantize(values: IntArray, scale: Double, zeroPoint: Int): FloatArray =
        FloatArray(values.size) { ((values[it] - zeroPoint) * scale).toFloat() }

    /** Real values to the integers of an integer [tensor], with its own scale and zero point. */
    fun quantize(values: FloatArray, tensor: TensorSpec): IntArray =
        quantize(values, tensor.scale ?: error("${tensor.dtype} tensor without a scale"), tensor.zeroPoint ?: 0, tensor.dtype)

    /** The real values of an integer [tensor]'s integers. */
    fun dequantize(values: IntArray, tensor: TensorSpec): FloatArray =
        dequantize(values, tensor.scale ?: error("${tensor.dtype} tensor without a scale"), tensor.zeroPoint ?: 0)

    /** Softmax, computed in double and shifted by the maximum so large logits do not overflow. */
    fun softmax(logits: FloatArray): FloatArray {
        var top = Double.NEGATIVE_INFINITY
        for (v in logits) if (v > top) top = v.toDouble()
        val e = DoubleArray(logits.size) { exp(logits[it] - top) }
        val sum = e.sum()
        return FloatArray(logits.size) { (e[it] / sum).toFloat() }
    }
}

/** One class of a classification result. */
data class Recognition(val index: Int, val label: String, val probability: Float)

/** The [k] most probable classes, most probable first; ties keep the lower index first. */
fun topK(probabilities: FloatArray, labels: List<String>, k: Int): List<Recognition> {
    require(labels.size == probabilities.size) { "${labels.size} labels for ${probabilities.size} scores" }
    return probabilities.indices
        .sortedWith(compareByDescending<Int> { probabilities[it] }.thenBy { it })
        .take(k)
        .map { Recognition(it, labels[it], probabilities[it]) }
}
