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
    private val channels = contract.image.channels

    // 255 * scale: exactly 1.0 for the unit normalization, so [0, 1] pictures pass unchanged (as in Python and JS).
    private val factor = DoubleArray(channels) { 255.0 * contract.normalization.scale[it] }
    private val offset = DoubleArray(channels) { contract.normalization.offset[it] }

    /**
     * A preprocessed grey picture ([0, 1], image.height * image.width) to the values the model was trained on:
     * replicated into every channel (interleaved), pixel = 255 * grey, value = pixel * scale[c] + offset[c].
     */
    fun normalize(grey: FloatArray): FloatArray {
        require(grey.size == contract.image.pixels) { "expected ${contract.image.pixels} grey values, got ${grey.size}" }
        val values = FloatArray(grey.size * channels)
        for (i in grey.indices) {
            for (c in 0 until channels) values[i * channels + c] = (grey[i] * factor[c] + offset[c]).toFloat()
        }
        return values
    }

    /** The bytes of the model's input tensor for one preprocessed picture (see [DigitPreprocessor]). */
    fun encodeInput(grey: FloatArray): ByteBuffer {
        val buffer = ByteBuffer.allocateDirect(input.byteSize).order(ByteOrder.nativeOrder())
        writeInput(grey, buffer)
        return buffer
    }

    fun writeInput(grey: FloatArray, buffer: ByteBuffer) {
        val values = normalize(grey)
        buffer.rewind()
        if (input.dtype == DType.FLOAT32) {
            for (v in values) buffer.putFloat(v)
        } else if (input.dtype == DType.INT16) {
            for (q in Quantization.quantize(values, input)) buffer.putShort(q.toShort())
        } else {
            // Two's complement bytes: toByte() keeps the bit pattern of uint8 values above 127 too.
            for (q in Quantization.quantize(values, input)) buffer.put(q.toByte())
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
            DType.INT8 -> Quantization.dequantize(IntArray(output.elementCount) { buffer.get().toInt() }, output)
            DType.UINT8 -> Quantization.dequantize(IntArray(output.elementCount) { buffer.get().toInt() and 0xFF }, output)
            DType.INT16 -> Quantization.dequantize(IntArray(output.elementCount) { buffer.getShort().toInt() }, output)
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
