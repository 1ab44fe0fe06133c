package dev.edgekit.digits

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.Path
import android.util.AttributeSet
import android.view.MotionEvent
import android.view.View

/** A square pad to draw a digit on: white ink on black, like MNIST. Reports each finished stroke. */
class DrawingView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    /** Called when a stroke ends (finger lifted). */
    var onStrokeFinished: (() -> Unit)? = null

    private val path = Path()
    private val ink = Paint().apply {
        color = Color.WHITE
        style = Paint.Style.STROKE
        strokeCap = Paint.Cap.ROUND
        strokeJoin = Paint.Join.ROUND
        isAntiAlias = true
    }

    val isEmpty: Boolean get() = path.isEmpty

    fun clear() {
        path.reset()
        invalidate()
    }

    /**
     * The drawing as a [size] x [size] bitmap. The digit is cropped and rescaled by the preprocessing anyway, so
     * a small copy loses nothing and keeps the per-stroke work independent of the screen's resolution.
     */
    fun renderBitmap(size: Int = RENDER_SIZE): Bitmap {
        val bitmap = Bitmap.createBitmap(size, size, Bitmap.Config.ARGB_8888)
        val canvas = Canvas(bitmap)
        canvas.drawColor(Color.BLACK)
        canvas.scale(size.toFloat() / width, size.toFloat() / height)
        canvas.drawPath(path, ink)
        return bitmap
    }

    override fun onMeasure(widthMeasureSpec: Int, heightMeasureSpec: Int) {
        val side = MeasureSpec.getSize(widthMeasureSpec)
        setMeasuredDimension(side, side)
    }

    override fun onSizeChanged(w: Int, h: Int, oldw: Int, oldh: Int) {
        // About the pen width of MNIST's digits once a digit filling the pad is fitted into 20x20 pixels.
        ink.strokeWidth = w / STROKE_FRACTION
    }

    override fun onDraw(canvas: Canvas) {
        canvas.drawColor(Color.BLACK)
        canvas.drawPath(path, ink)
    }

    override fun onTouchEvent(event: MotionEvent): Boolean {
        when (event.actionMasked) {
            MotionEvent.ACTION_DOWN -> path.moveTo(event.x, event.y)

            MotionEvent.ACTION_MOVE -> {
                for (i in 0 until event.historySize) path.lineTo(event.getHistoricalX(i), event.getHistoricalY(i))
                path.lineTo(event.x, event.y)
            }

            MotionEvent.ACTION_UP -> {
                path.lineTo(event.x, event.y)
                performClick()
                onStrokeFinished?.invoke()
            }

            else -> return false
        }
        invalidate()
        return true
    }

    override fun performClick(): Boolean = super.performClick()

    companion object {
        const val RENDER_SIZE = 280
        const val STROKE_FRACTION = 14f
    }
}
