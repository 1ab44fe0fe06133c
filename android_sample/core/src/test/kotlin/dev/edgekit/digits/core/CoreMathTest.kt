package dev.edgekit.digits.core

import java.nio.ByteOrder
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

class CoreMathTest {
    private val floatIo = """{"shape": [28, 28, 1], "dtype": "float32", "scale": null, "zero_point": null}"""
    private val mnist = ImageSpec(28, 28, 1)

    @Test
    fun emptyDrawingGivesZeros() {
        assertArrayEquals(FloatArray(784), DigitPreprocessor.preprocess(IntArray(64 * 48), 64, 48, mnist), 0f)
    }

    @Test
    fun fitsTheInkInTwentyPixelsAndCentresIt() {
        // A filled 100x50 rectangle becomes 20x10 of full ink, centred on the 28x28 field.
        val width = 300
        val height = 200
        val pixels = IntArray(width * height)
        for (y in 30 until 130) for (x in 200 until 250) pixels[y * width + x] = 255
        val out = DigitPreprocessor.preprocess(pixels, width, height, mnist)
        for (y in 0 until 28) {
            for (x in 0 until 28) {
                val inside = y in 4 until 24 && x in 9 until 19
                assertEquals("pixel ($y, $x)", if (inside) 1f else 0f, out[y * 28 + x], 1e-6f)
            }
        }
    }

    @Test
    fun fitsTheInkInTwentyTwentyEighthsOfAWideField() {
        // The same rectangle in a 20x36 field: the box is 14x26, so the height binds (14 rows, 7 columns).
        val pixels = IntArray(300 * 200)
        for (y in 30 until 130) for (x in 200 until 250) pixels[y * 300 + x] = 255
        val out = DigitPreprocessor.preprocess(pixels, 300, 200, ImageSpec(20, 36, 1))
        assertEquals(20 * 36, out.size)
        assertEquals(14 * 7, out.count { Math.abs(it - 1f) < 1e-6f })
        assertEquals(14 * 7, out.count { it != 0f })
    }

    @Test
    fun colourModelsGetTheGreyPictureInEveryChannelNormalizedPerChannel() {
        val codec = TensorCodec(ModelContract.parse(v2Json()))
        val grey = FloatArray(32 * 24)
        grey[1] = 1f
        val values = codec.normalize(grey)
        assertArrayEquals(floatArrayOf(-1f, -2f, -3f, 24.5f, 49f, 99f), values.copyOf(6), 1e-5f)
        assertEquals(32 * 24 * 3 * 4, codec.encodeInput(grey).capacity())
    }

    @Test
    fun grayOfGreyArgbIsExact() {
        val argb = IntArray(256) { (0xFF shl 24) or (it shl 16) or (it shl 8) or it }
        assertArrayEquals(IntArray(256) { it }, DigitPreprocessor.grayFromArgb(argb))
    }

    @Test
    fun quantizesHalfUpAndClips() {
        val q = Quantization.quantize(floatArrayOf(0f, 0.5f, 1f, 2f, -1f), 1.0 / 255, -128, DType.INT8)
        assertArrayEquals(intArrayOf(-128, 0, 127, 127, -128), q)
        // Exact halves go up (0.5 -> 1, 2.5 -> 3), where round-half-to-even would give 0 and 2.
        assertArrayEquals(intArrayOf(0, 1, 3, 255), Quantization.quantize(floatArrayOf(-1f, 0.25f, 1.25f, 300f), 0.5, 0, DType.UINT8))
    }

    @Test
    fun quantizesToInt16AndClips() {
        val q = Quantization.quantize(floatArrayOf(0f, 0.5f, 1f, -2f), 1.0 / 32767, 0, DType.INT16)
        assertArrayEquals(intArrayOf(0, 16384, 32767, -32768), q)
    }

    @Test
    fun softmaxIsStableAndSumsToOne() {
        val p = Quantization.softmax(floatArrayOf(1000f, 1000f, -1000f))
        assertArrayEquals(floatArrayOf(0.5f, 0.5f, 0f), p, 1e-7f)
    }

    @Test
    fun topKSortsByProbabilityThenIndex() {
        val top = topK(floatArrayOf(0.1f, 0.3f, 0.3f, 0.05f), listOf("a", "b", "c", "d"), 3)
        assertEquals(listOf(Recognition(1, "b", 0.3f), Recognition(2, "c", 0.3f), Recognition(0, "a", 0.1f)), top)
    }

    @Test
    fun float32InputIsWrittenAsNativeOrderFloats() {
        val codec = TensorCodec(ModelContract.parse(contractJson(input = floatIo)))
        val image = FloatArray(784) { it / 783f }
        val buffer = codec.encodeInput(image)
        assertEquals(ByteOrder.nativeOrder(), buffer.order())
        assertEquals(784 * 4, buffer.capacity())
        assertArrayEquals(image, FloatArray(784) { buffer.getFloat() }, 0f)
    }

    @Test
    fun symmetricNormalizationMapsPixelsOntoMinusOneToOne() {
        val contract = ModelContract.parse(contractJson(input = floatIo, normalization = """{"divide_by": 127.5, "range": [-1.0, 1.0]}"""))
        val normalized = TensorCodec(contract).normalize(
            FloatArray(784) {
                if (it == 0) {
                    0f
                } else if (it == 1) {
                    0.5f
                } else {
                    1f
                }
            }
        )
        assertArrayEquals(floatArrayOf(-1f, 0f, 1f), normalized.copyOf(3), 1e-6f)
    }

    @Test
    fun uint8TensorsKeepTheirBitPatterns() {
        val contract = ModelContract.parse(
            contractJson(
                input = """{"shape": [784], "dtype": "uint8", "scale": 0.00392156862745098, "zero_point": 0}""",
                output = """{"shape": [10], "dtype": "uint8", "scale": 0.00390625, "zero_point": 0}"""
            )
        )
        val codec = TensorCodec(contract)
        val input = codec.encodeInput(FloatArray(784) { 1f })
        assertEquals(255, input.get(0).toInt() and 0xFF)
        val output = codec.newOutputBuffer()
        for (i in 0 until 10) output.put((if (i == 3) 255 else 0).toByte())
        assertEquals(Recognition(3, "3", 255 / 256f), codec.classify(output, 1)[0])
    }

    @Test
    fun int16TensorsAreTwoBytesEach() {
        val contract = ModelContract.parse(
            contractJson(
                input = """{"shape": [28, 28, 1], "dtype": "int16", "scale": 0.000030518509475997192, "zero_point": 0}""",
                output = """{"shape": [10], "dtype": "int16", "scale": 0.000030517578125, "zero_point": 0}"""
            )
        )
        val codec = TensorCodec(contract)
        val input = codec.encodeInput(FloatArray(784) { if (it == 0) 1f else 0.5f })
        assertEquals(784 * 2, input.capacity())
        assertEquals(32767, input.getShort(0).toInt())
        assertEquals(16384, input.getShort(2).toInt())
        val output = codec.newOutputBuffer()
        assertEquals(10 * 2, output.capacity())
        for (i in 0 until 10) output.putShort((if (i == 4) 32767 else 0).toShort())
        assertEquals(Recognition(4, "4", 32767 / 32768f), codec.classify(output, 1)[0])
    }

    @Test
    fun logitsGoThroughSoftmax() {
        val contract = ModelContract.parse(
            contractJson(
                input = floatIo,
                output = """{"shape": [10], "dtype": "float32", "scale": null, "zero_point": null}""",
                outputKind = "logits"
            )
        )
        val codec = TensorCodec(contract)
        val output = codec.newOutputBuffer()
        for (i in 0 until 10) output.putFloat(if (i == 7) 5f else 0f)
        val probabilities = codec.probabilities(output)
        assertEquals(1.0, probabilities.sum().toDouble(), 1e-6)
        assertEquals("7", codec.classify(output, 3)[0].label)
    }
}
