package dev.edgekit.digits.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Writes model inputs and reads model outputs exactly as the contract describes them: normalization, dtype,
 * quantization. This is the step where integer models are most often fed wrongly, so no number here is a guess.
 */
class TensorCodec(val contract: ModelContract) {
    private val input = contract.input
    private val output = contract.output
    // A factor of exactly 1.0 and an offset of 0.0 for the toolkit's pixels / 255, so the values pass unchanged.
    private val pixelFactor = 255.0 / contract.normalization.divideBy
    private val offset = contract.normalization.rangeMin

    /** Preprocessed [0, 1] image (pixels / 255) to the real values the model was trained on. */
    fun normalize(image: FloatArray): FloatArray =
        FloatArray(image.size) { (offset + image[it] * pixelFactor).toFloat() }

    /** The bytes of the model's input tensor for one preprocessed image (see [DigitPreprocessor]). */
    fun encodeInput(image: FloatArray): ByteBuffer {
        val buffer = ByteBuffer.allocateDirect(input.byteSize).order(ByteOrder.nativeOrder())
        writeInput(image, buffer)
        return buffer
    }

    fun writeInput(image: FloatArray, buffer: ByteBuffer) {
        require(image.size == input.elementCount) { "expected ${input.elementCount} values, got ${image.size}" }
        val values = normalize(image)
        buffer.rewind()
        if (input.dtype == DType.FLOAT32) {
            for (v in values) buffer.putFloat(v)
        } else {
            // Two's complement bytes: toByte() keeps the bit pattern of uint8 values above 127 too.
            for (q in Quantization.quantize(values, input.scale!!, input.zeroPoint!!, input.dtype)) buffer.put(q.toByte())
        }
        buffer.rewind()
    }

    /** A buffer the size of the model's output tensor, for the runtime to fill. */
    fun newOutputBuffer(): ByteBuffer = ByteBuffer.allocateDirect(output.byteSize).order(ByteOrder.nativeOrder())

    /** The real (dequantized) values of an output tensor. */
    fun decodeOutput(buffer: ByteBuffer): FloatArray {
        buffer.rewind()
        val values = when (output.dtype) {
            DType.FLOAT32 -> FloatArray(output.elementCount) { buffer.getFloat() }
            DType.INT8 -> Quantization.dequantize(IntArray(output.elementCount) { buffer.get().toInt() }, output.scale!!, output.zeroPoint!!)
            DType.UINT8 -> Quantization.dequantize(IntArray(output.elementCount) { buffer.get().toInt() and 0xFF }, output.scale!!, output.zeroPoint!!)
        }
        buffer.rewind()
        return values
    }

    /** Class probabilities from an output tensor, applying softmax when the model returns logits. */
    fun probabilities(buffer: ByteBuffer): FloatArray {
        val values = decodeOutput(buffer)
        return if (contract.outputKind == OutputKind.LOGITS) Quantization.softmax(values) else values
    }

    /** The [k] most probable labels of an output tensor. */
    fun classify(buffer: ByteBuffer, k: Int): List<Recognition> = topK(probabilities(buffer), contract.labels, k)
}
