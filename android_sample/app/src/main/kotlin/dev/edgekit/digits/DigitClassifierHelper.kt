package dev.edgekit.digits

import android.content.Context
import android.graphics.Bitmap
import android.os.Build
import android.os.SystemClock
import androidx.annotation.WorkerThread
import dev.edgekit.digits.core.DType
import dev.edgekit.digits.core.DigitPreprocessor
import dev.edgekit.digits.core.ModelContract
import dev.edgekit.digits.core.Recognition
import dev.edgekit.digits.core.TensorCodec
import dev.edgekit.digits.core.TensorSpec
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import kotlin.math.abs
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate

/**
 * Classifies drawn digits with the model and contract that `edgekit android` put in assets/edgekit/.
 *
 * Everything about the model (picture size and channels, input shape and type, normalization, quantization,
 * labels) comes from contract.json, and the contract is checked against the model's own tensors when the interpreter starts.
 * All interpreter work happens on one background thread; [Listener] callbacks arrive on that thread.
 */
class DigitClassifierHelper(
    private val context: Context,
    private val listener: Listener? = null,
    numThreads: Int = 2,
    delegate: Delegate = Delegate.CPU,
    var maxResults: Int = 3,
    private val assetDir: String = ASSET_DIR
) {
    enum class Delegate { CPU, GPU, NNAPI }

    interface Listener {
        fun onResults(result: Result)
        fun onError(message: String)
    }

    /** The top classes for one drawing, and how long the interpreter took (preprocessing excluded). */
    data class Result(val recognitions: List<Recognition>, val inferenceTimeNanos: Long, val delegate: Delegate) {
        val inferenceTimeMs: Double get() = inferenceTimeNanos / 1e6
    }

    /** The contract in assets; read once, on first use. */
    val contract: ModelContract by lazy {
        ModelContract.parse(context.assets.open("$assetDir/$CONTRACT_FILE").bufferedReader().use { it.readText() })
    }

    // Read by the UI thread, written on the background thread.
    @Volatile
    var numThreads: Int = numThreads
        private set

    @Volatile
    var delegate: Delegate = delegate
        private set

    private val executor: ExecutorService = Executors.newSingleThreadExecutor()

    /** Everything that lives as long as one interpreter: built together, closed together, never half there. */
    private class Session(val interpreter: Interpreter, val accelerator: org.tensorflow.lite.Delegate?, val codec: TensorCodec) :
        AutoCloseable {
        val input: ByteBuffer = codec.encodeInput(FloatArray(codec.contract.image.pixels))
        val output: ByteBuffer = codec.newOutputBuffer()

        override fun close() {
            interpreter.close()
            (accelerator as? AutoCloseable)?.close()
        }
    }

    // Guarded by this object's lock: classifyNow may also be called from a test's thread.
    private var session: Session? = null

    /** Switches threads and delegate; the interpreter is rebuilt before the next classification. */
    fun configure(numThreads: Int = this.numThreads, delegate: Delegate = this.delegate) {
        executor.execute { reconfigure(numThreads, delegate) }
    }

    @Synchronized
    private fun reconfigure(numThreads: Int, delegate: Delegate) {
        this.numThreads = numThreads
        this.delegate = delegate
        closeSession()
    }

    /** Classifies [bitmap] (white ink on black) off the calling thread and reports to the listener. */
    fun classify(bitmap: Bitmap) {
        executor.execute {
            try {
                listener?.onResults(classifyNow(bitmap))
            } catch (e: Exception) {
                listener?.onError(e.message ?: e.toString())
            }
        }
    }

    /** Classifies on the calling thread; for tests and callers that manage their own threads. */
    @WorkerThread
    @Synchronized
    fun classifyNow(bitmap: Bitmap): Result {
        val session = session ?: startSession().also { session = it }
        val pixels = IntArray(bitmap.width * bitmap.height)
        bitmap.getPixels(pixels, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
        val gray = DigitPreprocessor.grayFromArgb(pixels)
        val picture = DigitPreprocessor.preprocess(gray, bitmap.width, bitmap.height, contract.image)
        session.codec.writeInput(picture, session.input)
        session.output.rewind()
        val start = SystemClock.elapsedRealtimeNanos()
        session.interpreter.run(session.input, session.output)
        val elapsed = SystemClock.elapsedRealtimeNanos() - start
        return Result(session.codec.classify(session.output, maxResults), elapsed, delegate)
    }

    /** Releases the interpreter and the background thread. */
    fun close() {
        executor.execute { closeSession() }
        executor.shutdown()
    }

    private fun startSession(): Session {
        val session = try {
            createSession(delegate)
        } catch (e: Exception) {
            if (delegate == Delegate.CPU) throw e
            listener?.onError("${delegate.name} unavailable (${e.message}); using the CPU")
            delegate = Delegate.CPU
            createSession(Delegate.CPU)
        }
        try {
            checkTensor("input", session.interpreter.getInputTensor(0), contract.input)
            checkTensor("output", session.interpreter.getOutputTensor(0), contract.output)
        } catch (e: IllegalStateException) {
            session.close()
            throw e
        }
        return session
    }

    private fun createSession(delegate: Delegate): Session {
        val accelerator = createAccelerator(delegate)
        try {
            val options = Interpreter.Options().setNumThreads(numThreads)
            accelerator?.let { options.addDelegate(it) }
            return Session(Interpreter(loadModel(), options), accelerator, TensorCodec(contract))
        } catch (e: Exception) {
            (accelerator as? AutoCloseable)?.close()
            throw e
        }
    }

    private fun createAccelerator(delegate: Delegate): org.tensorflow.lite.Delegate? = when (delegate) {
        Delegate.CPU -> null

        Delegate.GPU -> {
            val compatibility = CompatibilityList()
            try {
                check(compatibility.isDelegateSupportedOnThisDevice) { "this device's GPU is not supported" }
                GpuDelegate(compatibility.bestOptionsForThisDevice)
            } finally {
                compatibility.close()
            }
        }

        Delegate.NNAPI -> {
            check(Build.VERSION.SDK_INT >= Build.VERSION_CODES.O_MR1) { "NNAPI needs Android 8.1" }
            NnApiDelegate()
        }
    }

    /** Memory-maps the model from the APK; needs `noCompress "tflite"` (see app/build.gradle.kts). */
    private fun loadModel(): MappedByteBuffer = context.assets.openFd("$assetDir/${contract.mainFile}").use { fd ->
        FileInputStream(fd.fileDescriptor).use {
            it.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
        }
    }

    /** Fails loudly when contract.json does not describe the model next to it: feeding it would give garbage. */
    private fun checkTensor(which: String, tensor: Tensor, spec: TensorSpec) {
        val shape = tensor.shape().drop(1)
        check(shape == spec.shape) { "$which shape is $shape in the model but ${spec.shape} in contract.json" }
        val dtype = when (tensor.dataType()) {
            DataType.FLOAT32 -> DType.FLOAT32
            DataType.INT8 -> DType.INT8
            DataType.UINT8 -> DType.UINT8
            DataType.INT16 -> DType.INT16
            else -> error("$which type ${tensor.dataType()} is not supported by this app")
        }
        check(dtype == spec.dtype) { "$which type is $dtype in the model but ${spec.dtype} in contract.json" }
        val scale = spec.scale
        if (dtype.isInteger && scale != null) {
            val params = tensor.quantizationParams()
            check(abs(params.scale - scale) <= 1e-6 * scale && params.zeroPoint == spec.zeroPoint) {
                "$which quantization is (${params.scale}, ${params.zeroPoint}) in the model but " +
                    "(${spec.scale}, ${spec.zeroPoint}) in contract.json"
            }
        }
    }

    @Synchronized
    private fun closeSession() {
        session?.close()
        session = null
    }

    companion object {
        const val ASSET_DIR = "edgekit"
        const val CONTRACT_FILE = "contract.json"
    }
}
