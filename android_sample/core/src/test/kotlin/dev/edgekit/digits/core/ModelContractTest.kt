package dev.edgekit.digits.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** A float32 tensor of the contract with this shape. */
fun floatTensor(shape: String) = """{"shape": $shape, "dtype": "float32", "scale": null, "zero_point": null}"""

/** A contract as exporters/base.py writes version 1, with fields the tests can replace. */
fun contractJson(
    input: String = """{"shape": [28, 28, 1], "dtype": "int8", "scale": 0.003921568859368563, "zero_point": -128}""",
    output: String = """{"shape": [10], "dtype": "int8", "scale": 0.00390625, "zero_point": -128}""",
    outputKind: String = "probabilities",
    normalization: String = """{"divide_by": 255.0, "range": [0.0, 1.0]}""",
    labels: String = """["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]""",
    version: Int = 1,
    extra: String = ""
) = """
{
  $extra
  "edgekit_contract": $version,
  "name": "tflite-int8-qat",
  "format": "tflite",
  "variant": "int8",
  "source": "qat",
  "path": "artifacts/tflite-int8-qat",
  "main_file": "model.tflite",
  "input": $input,
  "output": $output,
  "output_kind": "$outputKind",
  "normalization": $normalization,
  "labels": $labels,
  "sha256": "9f2c",
  "size_bytes": 123,
  "files": {"model.tflite": {"sha256": "9f2c", "size_bytes": 123}}
}
"""

class ModelContractTest {
    @Test
    fun readsAnInt8Contract() {
        val contract = ModelContract.parse(contractJson())
        assertEquals("tflite-int8-qat", contract.name)
        assertEquals("tflite", contract.format)
        assertEquals("model.tflite", contract.mainFile)
        assertEquals(TensorSpec(listOf(28, 28, 1), DType.INT8, 0.003921568859368563, -128), contract.input)
        assertEquals(TensorSpec(listOf(10), DType.INT8, 0.00390625, -128), contract.output)
        assertEquals(784, contract.input.byteSize)
        assertEquals(OutputKind.PROBABILITIES, contract.outputKind)
        assertEquals(Normalization("unit", listOf(1 / 255.0), listOf(0.0)), contract.normalization)
        assertEquals(ImageSpec(28, 28, 1), contract.image)
        assertEquals((0..9).map { it.toString() }, contract.labels)
        assertEquals("9f2c", contract.sha256)
    }

    @Test
    fun readsAFloatContractWithNullQuantization() {
        val contract = ModelContract.parse(
            contractJson(
                input = """{"shape": [28, 28, 1], "dtype": "float32", "scale": null, "zero_point": null}""",
                output = """{"shape": [10], "dtype": "float32", "scale": null, "zero_point": null}""",
                outputKind = "logits"
            )
        )
        assertEquals(DType.FLOAT32, contract.input.dtype)
        assertNull(contract.input.scale)
        assertEquals(784 * 4, contract.input.byteSize)
        assertEquals(OutputKind.LOGITS, contract.outputKind)
    }

    @Test
    fun readsUint8AndFlatInputs() {
        val contract = ModelContract.parse(
            contractJson(
                input = """{"shape": [784], "dtype": "uint8", "scale": 0.00392156862745098, "zero_point": 0}""",
                output = """{"shape": [10], "dtype": "uint8", "scale": 0.00390625, "zero_point": 0}"""
            )
        )
        assertEquals(DType.UINT8, contract.input.dtype)
        assertEquals(784, contract.input.elementCount)
    }

    @Test
    fun readsAV2ColourContractWithItsOwnPictureClassesAndNormalization() {
        val contract = ModelContract.parse(v2Json())
        assertEquals(ImageSpec(32, 24, 3), contract.image)
        assertEquals(32 * 24 * 3, contract.input.elementCount)
        assertEquals(listOf("cat", "dog", "bird"), contract.labels)
        assertEquals(Normalization("mean_std", listOf(0.1, 0.2, 0.4), listOf(-1.0, -2.0, -3.0)), contract.normalization)
        // One scale and offset stand for every channel.
        val one = ModelContract.parse(v2Json(normalization = """{"kind": "symmetric", "scale": [0.0078431], "offset": [-1]}"""))
        assertEquals(listOf(-1.0, -1.0, -1.0), one.normalization.offset)
    }

    @Test
    fun rejectsContractsTheAppCannotFeed() {
        val bad = mapOf(
            "version" to contractJson(version = 3),
            "v2 without image" to contractJson(version = 2, normalization = """{"kind": "unit", "scale": [1], "offset": [0]}"""),
            "two channels" to v2Json(image = """{"height": 32, "width": 24, "channels": 2}"""),
            "picture not input" to v2Json(image = """{"height": 32, "width": 32, "channels": 3}"""),
            "scale per channel" to v2Json(normalization = """{"kind": "mean_std", "scale": [1, 2], "offset": [0]}"""),
            "no normalization numbers" to v2Json(normalization = """{"kind": "unit"}"""),
            "one class" to
                contractJson(output = """{"shape": [1], "dtype": "float32", "scale": null, "zero_point": null}""", labels = """["0"]"""),
            "lenient JSON" to contractJson().replace("\"name\"", "name"),
            "trailing data" to contractJson() + "{}",
            "shape" to contractJson(input = """{"shape": [32, 32, 1], "dtype": "float32", "scale": null, "zero_point": null}"""),
            "dtype" to contractJson(input = """{"shape": [28, 28, 1], "dtype": "float16", "scale": null, "zero_point": null}"""),
            "no scale" to contractJson(input = """{"shape": [28, 28, 1], "dtype": "int8", "scale": null, "zero_point": -128}"""),
            "zero scale" to contractJson(input = """{"shape": [28, 28, 1], "dtype": "int8", "scale": 0, "zero_point": -128}"""),
            "zero point range" to contractJson(input = """{"shape": [28, 28, 1], "dtype": "int8", "scale": 0.1, "zero_point": 200}"""),
            "labels" to contractJson(labels = """["0", "1"]"""),
            "normalization" to contractJson(normalization = """{"divide_by": 0, "range": [-1.0, 1.0]}"""),
            "output kind" to contractJson(outputKind = "scores"),
            "not an object" to "[1, 2]"
        )
        for ((what, text) in bad) {
            try {
                ModelContract.parse(text)
                fail("accepted a contract with a bad $what")
            } catch (expected: ContractException) {
                assertTrue(expected.message!!.isNotEmpty())
            }
        }
    }

    @Test
    fun acceptsSymmetricNormalization() {
        val contract = ModelContract.parse(
            contractJson(
                input = """{"shape": [28, 28, 1], "dtype": "float32", "scale": null, "zero_point": null}""",
                normalization = """{"divide_by": 127.5, "range": [-1.0, 1.0]}"""
            )
        )
        assertEquals(Normalization("unit", listOf(1 / 127.5), listOf(-1.0)), contract.normalization)
        assertArrayEquals(
            floatArrayOf(-1f, 0f, 1f),
            TensorCodec(contract).normalize(
                FloatArray(784) {
                    if (it ==
                        0
                    ) {
                        0f
                    } else if (it == 1) {
                        0.5f
                    } else {
                        1f
                    }
                }
            ).copyOf(3),
            1e-6f
        )
    }
}

/** A version 2 contract of a colour model: 32x24x3 picture, flattened input, three classes, mean/std. */
fun v2Json(
    image: String = """{"height": 32, "width": 24, "channels": 3}""",
    normalization: String =
        """{"kind": "mean_std", "scale": [0.1, 0.2, 0.4], "offset": [-1, -2, -3], "mean": [0.1, 0.2, 0.3], "std": [0.4, 0.5, 0.6]}"""
) = contractJson(
    input = """{"shape": [2304], "dtype": "float32", "scale": null, "zero_point": null}""",
    output = """{"shape": [3], "dtype": "float32", "scale": null, "zero_point": null}""",
    outputKind = "logits",
    normalization = normalization,
    labels = """["cat", "dog", "bird"]""",
    version = 2,
    extra = """"image": $image, "model_type": null,"""
)
