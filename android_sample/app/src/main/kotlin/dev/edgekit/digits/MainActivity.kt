package dev.edgekit.digits

import android.os.Bundle
import android.view.View
import android.widget.AdapterView
import android.widget.Button
import android.widget.Spinner
import android.widget.TextView
import android.widget.Toast
import androidx.appcompat.app.AppCompatActivity

/** Draw a digit, see the model's top 3 classes and how long inference took; pick CPU, GPU or NNAPI. */
class MainActivity :
    AppCompatActivity(),
    DigitClassifierHelper.Listener {
    private lateinit var classifier: DigitClassifierHelper
    private lateinit var drawing: DrawingView
    private lateinit var results: TextView
    private lateinit var timing: TextView
    private lateinit var delegateChoice: Spinner

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        drawing = findViewById(R.id.drawing)
        results = findViewById(R.id.results)
        timing = findViewById(R.id.timing)
        delegateChoice = findViewById(R.id.delegate)
        classifier = DigitClassifierHelper(this, listener = this)

        drawing.onStrokeFinished = { classifier.classify(drawing.renderBitmap()) }
        findViewById<Button>(R.id.clear).setOnClickListener {
            drawing.clear()
            showNoResult()
        }
        delegateChoice.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) {
                val chosen = DigitClassifierHelper.Delegate.values()[position]
                if (chosen == classifier.delegate) return
                classifier.configure(delegate = chosen)
                if (!drawing.isEmpty) classifier.classify(drawing.renderBitmap())
            }

            override fun onNothingSelected(parent: AdapterView<*>?) = Unit
        }
        showNoResult()
    }

    override fun onDestroy() {
        classifier.close()
        super.onDestroy()
    }

    override fun onResults(result: DigitClassifierHelper.Result) {
        runOnUiThread {
            results.text = result.recognitions.joinToString("\n") {
                getString(R.string.result_line, it.label, it.probability * 100)
            }
            timing.text = getString(R.string.timing, classifier.contract.name, result.inferenceTimeMs, result.delegate.name)
            // The helper falls back to the CPU when an accelerator is unavailable; show what actually ran.
            delegateChoice.setSelection(result.delegate.ordinal)
        }
    }

    override fun onError(message: String) {
        runOnUiThread { Toast.makeText(this, message, Toast.LENGTH_LONG).show() }
    }

    private fun showNoResult() {
        results.text = getString(R.string.no_result)
        timing.text = ""
    }
}
