package dev.edgekit.digits.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.BeforeClass
import org.junit.Test
import java.io.File

/**
 * The core against golden vectors written by edgekit's Python reference (toolkit/golden.py):
 * same drawing -> same 28x28 floats -> same input bytes; same int8 output -> same probabilities.
 *
 * Pass the file as -Dedgekit.golden=PATH or EDGEKIT_GOLDEN=PATH, and optionally the int8 artifact's
 * contract.json the vectors were written with as -Dedgekit.contract / EDGEKIT_CONTRACT.
 */
class GoldenVectorsTest {
    companion object {
        private var golden: Map<*, *>? = null
        private var contractFile: File? = null

        private fun setting(property: String, env: String): String? = System.getProperty(property) ?: System.getenv(env)

        @BeforeClass
        @JvmStatic
        fun load() {
            val path = setting("edgekit.golden", "EDGEKIT_GOLDEN") ?: return
            golden = Json.parse(File(path).readText()) as Map<*, *>
            contractFile = setting("edgekit.contract", "EDGEKIT_CONTRACT")?.let { File(it) }
        }
    }

    private fun golden(): Map<*, *> {
        assumeTrue("no golden vectors: set -Dedgekit.golden or EDGEKIT_GOLDEN (write them with toolkit.golden)", golden != null)
        return golden!!
    }

    private fun cases(key: String) = golden()[key] as List<*>
    private val quantization get() = golden()["quantization"] as Map<*, *>
    private fun Map<*, *>.doubles(key: String) = (this[key] as List<*>).map { it as Double }
    private fun Map<*, *>.floats(key: String) = doubles(key).map { it.toFloat() }.toFloatArray()
    private fun Map<*, *>.ints(key: String) = doubles(key).map { it.toInt() }.toIntArray()
    private fun Map<*, *>.int(key: String) = (this[key] as Double).toInt()

    private fun preprocessCase(case: Map<*, *>): FloatArray =
        DigitPreprocessor.preprocess(case.ints("pixels"), case.int("width"), case.int("height"))

    /** The int8 contract the vectors were written with: the exporter's own file when given, else one built from them. */
    private fun contract(outputKind: String): ModelContract {
        val input = quantization["input"] as Map<*, *>
        val output = quantization["output"] as Map<*, *>
        val tensor = { spec: Map<*, *>, shape: String ->
            """{"shape": $shape, "dtype": "${spec["dtype"]}", "scale": ${spec["scale"]}, "zero_point": ${spec.int("zero_point")}}"""
        }
        return ModelContract.parse(contractJson(tensor(input, "[28, 28, 1]"), tensor(output, "[10]"), outputKind))
    }

    @Test
    fun preprocessingMatchesPython() {
        val all = cases("preprocess")
        assertTrue("golden.json has no preprocess cases", all.isNotEmpty())
        for (case in all.map { it as Map<*, *> }) {
            val expected = case.floats("expected")
            val actual = preprocessCase(case)
            var worst = 0f
            for (i in expected.indices) worst = Math.max(worst, Math.abs(expected[i] - actual[i]))
            assertTrue("case ${case["name"]}: largest difference $worst", worst <= 1e-5f)
        }
    }

    @Test
    fun quantizationMatchesPython() {
        val input = quantization["input"] as Map<*, *>
        val dtype = DType.fromJson(input["dtype"] as String)
        for (case in (quantization["quantize"] as List<*>).map { it as Map<*, *> }) {
            val actual = Quantization.quantize(case.floats("values"), input["scale"] as Double, input.int("zero_point"), dtype)
            assertArrayEquals(case.ints("expected"), actual)
        }
    }

    @Test
    fun sameDrawingGivesTheSameInputBytesAsPython() {
        // The first quantize case holds the preprocessed output of one of the drawings; find which.
        val quantized = (quantization["quantize"] as List<*>)[0] as Map<*, *>
        val drawing = cases("preprocess").map { it as Map<*, *> }.first { it.doubles("expected") == quantized.doubles("values") }
        val bytes = TensorCodec(contract("probabilities")).encodeInput(preprocessCase(drawing))
        val actual = IntArray(bytes.capacity()) { bytes.get(it).toInt() }
        assertArrayEquals("input bytes of '${drawing["name"]}'", quantized.ints("expected"), actual)
    }

    @Test
    fun dequantizationAndSoftmaxMatchPython() {
        val output = quantization["output"] as Map<*, *>
        for (case in (quantization["dequantize"] as List<*>).map { it as Map<*, *> }) {
            val real = Quantization.dequantize(case.ints("values"), output["scale"] as Double, output.int("zero_point"))
            assertArrayEquals(case.floats("expected"), real, 1e-6f)
            assertArrayEquals(case.floats("expected_softmax"), Quantization.softmax(real), 1e-6f)
        }
    }

    @Test
    fun sameOutputBytesGiveTheSameProbabilitiesAsPython() {
        for ((kind, key) in listOf("probabilities" to "expected", "logits" to "expected_softmax")) {
            val codec = TensorCodec(contract(kind))
            for (case in (quantization["dequantize"] as List<*>).map { it as Map<*, *> }) {
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
            val expected = quantization[key] as Map<*, *>
            assertEquals(key, expected["dtype"], spec.dtype.jsonName)
            assertEquals(key, expected["scale"] as Double, spec.scale!!, 0.0)
            assertEquals(key, expected.int("zero_point"), spec.zeroPoint)
        }
        assertEquals(784, TensorCodec(contract).encodeInput(FloatArray(784)).capacity())
    }
}
