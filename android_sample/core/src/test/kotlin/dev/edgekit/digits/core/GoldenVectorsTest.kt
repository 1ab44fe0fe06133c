package dev.edgekit.digits.core

import com.google.gson.JsonArray
import com.google.gson.JsonObject
import java.io.File
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.BeforeClass
import org.junit.Test

/**
 * The core against golden vectors written by edgekit's Python reference (toolkit/pixels/golden.py):
 * same drawing -> same 28x28 floats -> same input bytes; same int8 output -> same probabilities.
 *
 * Pass the file as -Dedgekit.golden=PATH or EDGEKIT_GOLDEN=PATH, and optionally the int8 artifact's
 * contract.json the vectors were written with as -Dedgekit.contract / EDGEKIT_CONTRACT.
 */
class GoldenVectorsTest {
    companion object {
        private var golden: JsonObject? = null
        private var contractFile: File? = null

        private fun setting(property: String, env: String): String? = System.getProperty(property) ?: System.getenv(env)

        @BeforeClass
        @JvmStatic
        fun load() {
            val path = setting("edgekit.golden", "EDGEKIT_GOLDEN") ?: return
            golden = ModelContract.parseJson(File(path).readText()).asJsonObject
            contractFile = setting("edgekit.contract", "EDGEKIT_CONTRACT")?.let { File(it) }
        }
    }

    private fun golden(): JsonObject {
        assumeTrue("no golden vectors: set -Dedgekit.golden or EDGEKIT_GOLDEN (write them with toolkit.pixels.golden)", golden != null)
        return golden!!
    }

    private fun cases(key: String): List<JsonObject> = golden().getAsJsonArray(key).map { it.asJsonObject }
    private val quantization: JsonObject get() = golden().getAsJsonObject("quantization")
    private fun JsonObject.array(key: String): JsonArray = getAsJsonArray(key)
    private fun JsonObject.doubles(key: String) = array(key).map { it.asDouble }
    private fun JsonObject.floats(key: String) = doubles(key).map { it.toFloat() }.toFloatArray()
    private fun JsonObject.ints(key: String) = doubles(key).map { it.toInt() }.toIntArray()
    private fun JsonObject.int(key: String) = get(key).asInt
    private fun JsonObject.double(key: String) = get(key).asDouble
    private fun JsonObject.obj(key: String): JsonObject = getAsJsonObject(key)

    // The MNIST cases carry no field: they are the 28x28 pictures of edgekit's default contract.
    private val mnist = ImageSpec(28, 28, 1)

    private fun preprocessCase(case: JsonObject, field: ImageSpec = mnist): FloatArray =
        DigitPreprocessor.preprocess(case.ints("pixels"), case.int("width"), case.int("height"), field)

    /** The int8 contract the vectors were written with: the exporter's own file when given, else one built from them. */
    private fun contract(outputKind: String): ModelContract {
        val input = quantization.obj("input")
        val output = quantization.obj("output")
        val tensor = { spec: JsonObject, shape: String ->
            """{"shape": $shape, "dtype": "${spec.get(
                "dtype"
            ).asString}", "scale": ${spec.double("scale")}, "zero_point": ${spec.int("zero_point")}}"""
        }
        return ModelContract.parse(contractJson(tensor(input, "[28, 28, 1]"), tensor(output, "[10]"), outputKind))
    }

    @Test
    fun preprocessingMatchesPython() {
        val all = cases("preprocess")
        assertTrue("golden.json has no preprocess cases", all.isNotEmpty())
        for (case in all) assertClose("case ${case.get("name")}", case.floats("expected"), preprocessCase(case))
    }

    @Test
    fun otherFieldsChannelsAndNormalizationsMatchPython() {
        val all = cases("targets")
        assertTrue("golden.json has no target cases", all.isNotEmpty())
        for (case in all) {
            val image = case.obj("image")
            val field = ImageSpec(image.int("height"), image.int("width"), image.int("channels"))
            val name = "${case.get("name").asString} at ${field.height}x${field.width}x${field.channels}"
            val grey = preprocessCase(case, field)
            assertClose("$name, grey", case.floats("expected_grey"), grey)
            // The normalization exactly as a v2 contract carries it, through the codec the app feeds the model with.
            val contract = ModelContract.parse(
                contractJson(
                    input = floatTensor("[${field.height}, ${field.width}, ${field.channels}]"),
                    normalization = case.obj("normalization").toString(),
                    version = 2,
                    extra = """"image": $image,"""
                )
            )
            assertClose("$name, model values", case.floats("expected"), TensorCodec(contract).normalize(grey))
        }
    }

    private fun assertClose(what: String, expected: FloatArray, actual: FloatArray) {
        assertEquals("$what: size", expected.size, actual.size)
        var worst = 0f
        for (i in expected.indices) worst = Math.max(worst, Math.abs(expected[i] - actual[i]))
        assertTrue("$what: largest difference $worst", worst <= 1e-5f)
    }

    @Test
    fun quantizationMatchesPython() {
        val input = quantization.obj("input")
        val dtype = DType.fromJson(input.get("dtype").asString)
        for (case in quantization.array("quantize").map { it.asJsonObject }) {
            val actual = Quantization.quantize(case.floats("values"), input.double("scale"), input.int("zero_point"), dtype)
            assertArrayEquals(case.ints("expected"), actual)
        }
    }

    @Test
    fun sameDrawingGivesTheSameInputBytesAsPython() {
        // The first quantize case holds the preprocessed output of one of the drawings; find which.
        val quantized = quantization.array("quantize")[0].asJsonObject
        val drawing = cases("preprocess").first { it.doubles("expected") == quantized.doubles("values") }
        val bytes = TensorCodec(contract("probabilities")).encodeInput(preprocessCase(drawing))
        val actual = IntArray(bytes.capacity()) { bytes.get(it).toInt() }
        assertArrayEquals("input bytes of '${drawing.get("name")}'", quantized.ints("expected"), actual)
    }

    @Test
    fun dequantizationAndSoftmaxMatchPython() {
        val output = quantization.obj("output")
        for (case in quantization.array("dequantize").map { it.asJsonObject }) {
            val real = Quantization.dequantize(case.ints("values"), output.double("scale"), output.int("zero_point"))
            assertArrayEquals(case.floats("expected"), real, 1e-6f)
            assertArrayEquals(case.floats("expected_softmax"), Quantization.softmax(real), 1e-6f)
        }
    }

    @Test
    fun sameOutputBytesGiveTheSameProbabilitiesAsPython() {
        for ((kind, key) in listOf("probabilities" to "expected", "logits" to "expected_softmax")) {
            val codec = TensorCodec(contract(kind))
            for (case in quantization.array("dequantize").map { it.asJsonObject }) {
                val buffer = codec.newOutputBuffer()
                for (q in case.ints("values")) buffer.put(q.toByte())
                assertArrayEquals("$kind output", case.floats(key), codec.probabilities(buffer), 1e-6f)
            }
        }
    }

    @Test
    fun exportersContractCarriesTheGoldenParameters() {
        golden()
        val file = contractFile
        assumeTrue("no contract: set -Dedgekit.contract or EDGEKIT_CONTRACT", file != null)
        val contract = ModelContract.parse(file!!.readText())
        for ((spec, key) in listOf(contract.input to "input", contract.output to "output")) {
            val expected = quantization.obj(key)
            assertEquals(key, expected.get("dtype").asString, spec.dtype.jsonName)
            assertEquals(key, expected.double("scale"), spec.scale!!, 0.0)
            assertEquals(key, expected.int("zero_point"), spec.zeroPoint)
        }
        assertEquals(contract.input.byteSize, TensorCodec(contract).encodeInput(FloatArray(contract.image.pixels)).capacity())
    }
}
