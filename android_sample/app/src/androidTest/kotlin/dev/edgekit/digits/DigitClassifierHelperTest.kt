package dev.edgekit.digits

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.Path
import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.math.cos
import kotlin.math.sin
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith

/**
 * The installed model on a device, end to end through the helper: golden MNIST images and digits drawn with
 * Android's own canvas must come back as their class, on every delegate the device offers.
 */
@RunWith(AndroidJUnit4::class)
class DigitClassifierHelperTest {
    private val instrumentation = InstrumentationRegistry.getInstrumentation()
    private val events = LinkedBlockingQueue<Any>()
    private lateinit var classifier: DigitClassifierHelper

    @Before
    fun setUp() {
        val listener = object : DigitClassifierHelper.Listener {
            override fun onResults(result: DigitClassifierHelper.Result) {
                events.put(result)
            }

            override fun onError(message: String) {
                events.put(message)
            }
        }
        classifier = DigitClassifierHelper(instrumentation.targetContext, listener)
    }

    @After
    fun tearDown() = classifier.close()

    /** MNIST test images (first of each class), stored as digit_<label>_mnist_test_<index>.png. */
    private fun goldenImages(): List<Pair<String, Bitmap>> {
        val assets = instrumentation.context.assets
        return assets.list("golden")!!.sorted().map { name ->
            name.removePrefix("digit_").substringBefore('_') to assets.open("golden/$name").use { BitmapFactory.decodeStream(it) }
        }
    }

    /** A polyline of (x, y) points drawn white on black with a round pen, as the drawing pad does. */
    private fun drawn(size: Int, width: Float, points: List<Pair<Float, Float>>): Bitmap {
        val bitmap = Bitmap.createBitmap(size, size, Bitmap.Config.ARGB_8888)
        val path = Path()
        path.moveTo(points[0].first, points[0].second)
        for ((x, y) in points.drop(1)) path.lineTo(x, y)
        val paint = Paint().apply {
            color = Color.WHITE
            style = Paint.Style.STROKE
            strokeCap = Paint.Cap.ROUND
            strokeJoin = Paint.Join.ROUND
            strokeWidth = width
            isAntiAlias = true
        }
        Canvas(bitmap).apply {
            drawColor(Color.BLACK)
            drawPath(path, paint)
        }
        return bitmap
    }

    @Test
    fun contractMatchesTheInstalledModel() {
        // The first classification starts the interpreter, which checks shape, type and quantization of both
        // tensors against contract.json and throws on any difference.
        val blank = Bitmap.createBitmap(28, 28, Bitmap.Config.ARGB_8888)
        val result = classifier.classifyNow(blank)
        assertEquals(3, result.recognitions.size)
        assertEquals(classifier.contract.labels.size, classifier.contract.output.elementCount)
    }

    @Test
    fun goldenMnistImagesComeBackAsTheirDigit() {
        val golden = goldenImages()
        assertEquals(10, golden.size)
        for ((label, bitmap) in golden) {
            val top = classifier.classifyNow(bitmap).recognitions[0]
            assertEquals("golden image of a $label", label, top.label)
        }
    }

    @Test
    fun digitsDrawnOnACanvasComeBackAsTheirDigit() {
        // The strokes of toolkit/pixels/golden.py's one_vertical_bar, seven and zero_ring cases (points there are (y, x)).
        val one = drawn(280, 19f, listOf(150f to 40f, 140f to 240f))
        val seven = drawn(280, 21f, listOf(60f to 60f, 210f to 60f, 110f to 240f))
        val ring = (0..39).map { i ->
            val a = 2 * Math.PI * i / 39
            (100 + 45 * sin(a)).toFloat() to (40 + 60 * (1 - cos(a))).toFloat()
        }
        val zero = drawn(200, 17f, ring)
        for ((label, bitmap) in listOf("1" to one, "7" to seven, "0" to zero)) {
            assertEquals("drawn $label", label, classifier.classifyNow(bitmap).recognitions[0].label)
        }
    }

    @Test
    fun everyDelegateGivesTheSameAnswerOrFallsBackToCpu() {
        val golden = goldenImages()
        for (delegate in DigitClassifierHelper.Delegate.values()) {
            classifier.configure(delegate = delegate)
            for ((label, bitmap) in golden) {
                classifier.classify(bitmap)
                val result = nextResult()
                assertTrue(
                    "$delegate ran on ${result.delegate}",
                    result.delegate == delegate || result.delegate == DigitClassifierHelper.Delegate.CPU
                )
                assertEquals("$label on ${result.delegate}", label, result.recognitions[0].label)
                assertTrue(result.inferenceTimeNanos > 0)
            }
        }
    }

    /** The next result from the background thread; a fallback notice may come first. */
    private fun nextResult(): DigitClassifierHelper.Result {
        while (true) {
            val event = events.poll(30, TimeUnit.SECONDS)
            assertNotNull("no result within 30 s", event)
            if (event is DigitClassifierHelper.Result) return event
            assertTrue("error: $event", (event as String).contains("using the CPU"))
        }
    }
}
