package dev.edgekit.digits.core

import kotlin.math.ceil
import kotlin.math.floor
import kotlin.math.max
import kotlin.math.min

/**
 * Turns a drawn digit into an MNIST-style grey picture of the model's size, with the same arithmetic as edgekit's
 * Python reference (toolkit/pixels/digit.py): crop to the ink, fit it into 20/28 of the field by area averaging, place
 * the centre of mass at the centre of the field. Tested equal to Python on golden vectors.
 */
object DigitPreprocessor {
    /** MNIST's field side, and the digit's longer side in it: the ink fills 20/28 of any field. */
    const val SIZE = 28
    const val BOX = 20

    /** The share of a field side that the ink may fill, rounded half up. */
    fun boxSide(side: Int): Int = max(1, floor((side * BOX).toDouble() / SIZE + 0.5).toInt())

    /** The crop's size fitted into boxH x boxW keeping its aspect ratio (rows, columns). */
    fun fittedSize(cropH: Int, cropW: Int, boxH: Int, boxW: Int): Pair<Int, Int> =
        // floor(x + 0.5), not kotlin.math.round (half to even): the same half-up rule as the Python reference and JS.
        if (boxH.toLong() * cropW <= boxW.toLong() * cropH) {
            Pair(boxH, max(1, floor((cropW * boxH).toDouble() / cropH + 0.5).toInt()))
        } else {
            Pair(max(1, floor((cropH * boxW).toDouble() / cropW + 0.5).toInt()), boxW)
        }

    /**
     * @param pixels ink intensities 0..255, row-major, bright ink on a dark background.
     * @param field the model's picture (the contract's image); only its height and width matter here.
     * @return field.height * field.width floats in [0, 1], row-major; all zeros when there is no ink.
     */
    fun preprocess(pixels: IntArray, width: Int, height: Int, field: ImageSpec): FloatArray {
        require(pixels.size == width * height) { "expected ${width * height} pixels, got ${pixels.size}" }
        return preprocessUnit(DoubleArray(pixels.size) { pixels[it] / 255.0 }, width, height, field)
    }

    /** Same as [preprocess] for intensities already in [0, 1]. */
    fun preprocessUnit(values: DoubleArray, width: Int, height: Int, field: ImageSpec): FloatArray {
        require(values.size == width * height) { "expected ${width * height} values, got ${values.size}" }
        val out = FloatArray(field.height * field.width)
        var top = height
        var bottom = -1
        var left = width
        var right = -1
        for (y in 0 until height) {
            for (x in 0 until width) {
                if (values[y * width + x] > 0.0) {
                    top = min(top, y)
                    bottom = max(bottom, y)
                    left = min(left, x)
                    right = max(right, x)
                }
            }
        }
        if (bottom < 0) return out

        val cropH = bottom - top + 1
        val cropW = right - left + 1
        val (newH, newW) = fittedSize(cropH, cropW, boxSide(field.height), boxSide(field.width))
        val rows = AreaWeights(cropH, newH)
        val cols = AreaWeights(cropW, newW)

        // fitted = rowWeights x crop x colWeights^T, summing only the source cells each output cell overlaps.
        val tall = Array(newH) { DoubleArray(cropW) }
        for (i in 0 until newH) {
            for (j in rows.first[i] until rows.end[i]) {
                val w = rows.weight(i, j)
                val rowStart = (top + j) * width + left
                for (c in 0 until cropW) tall[i][c] += w * values[rowStart + c]
            }
        }
        val fitted = Array(newH) { DoubleArray(newW) }
        for (i in 0 until newH) {
            for (k in 0 until newW) {
                var sum = 0.0
                for (c in cols.first[k] until cols.end[k]) sum += tall[i][c] * cols.weight(k, c)
                fitted[i][k] = sum
            }
        }

        var mass = 0.0
        var momentY = 0.0
        var momentX = 0.0
        val columnSums = DoubleArray(newW)
        for (i in 0 until newH) {
            var rowSum = 0.0
            for (k in 0 until newW) {
                rowSum += fitted[i][k]
                columnSums[k] += fitted[i][k]
            }
            mass += rowSum
            momentY += rowSum * i
        }
        for (k in 0 until newW) momentX += columnSums[k] * k
        val centreY = momentY / mass
        val centreX = momentX / mass
        // Puts the centre of mass on the middle of the field (13.5 in pixel-index coordinates for 28), kept inside it.
        val offsetY = min(max(floor(field.height / 2.0 - centreY).toInt(), 0), field.height - newH)
        val offsetX = min(max(floor(field.width / 2.0 - centreX).toInt(), 0), field.width - newW)
        for (i in 0 until newH) {
            for (k in 0 until newW) {
                out[(offsetY + i) * field.width + offsetX + k] = fitted[i][k].coerceIn(0.0, 1.0).toFloat()
            }
        }
        return out
    }

    /**
     * Ink intensity of ARGB pixels (as from Android's Bitmap.getPixels): integer luma, which gives back v exactly
     * for grey (v, v, v), so white-on-black drawings lose nothing.
     */
    fun grayFromArgb(argb: IntArray): IntArray = IntArray(argb.size) {
        val p = argb[it]
        val r = (p shr 16) and 0xFF
        val g = (p shr 8) and 0xFF
        val b = p and 0xFF
        (299 * r + 587 * g + 114 * b + 500) / 1000
    }

    /** Box resampling from src to dst cells: each output cell averages the source cells it overlaps. */
    private class AreaWeights(src: Int, dst: Int) {
        private val step = src.toDouble() / dst
        private val starts = DoubleArray(dst) { it * step }
        private val ends = DoubleArray(dst) { (it + 1) * step }
        val first = IntArray(dst) { floor(starts[it]).toInt() }
        val end = IntArray(dst) { min(src, ceil(ends[it]).toInt()) }

        fun weight(i: Int, j: Int): Double {
            val overlap = min(ends[i], (j + 1).toDouble()) - max(starts[i], j.toDouble())
            return if (overlap > 0) overlap / step else 0.0
        }
    }
}
