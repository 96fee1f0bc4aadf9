package io.mobilecomp.demo

import android.app.Activity
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.ViewGroup
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import java.util.Locale
import java.util.concurrent.Executors

/**
 * Interactive demo: pick a bundle directory, type text, see sentence similarity (encoder bundles),
 * label and confidence (classifier bundles; a second text makes a pair) or the task's answer (tags per
 * word, the best words at [MASK], the answer span in the passage) with each inference's latency.
 */
class MainActivity : Activity() {
    private val worker = Executors.newSingleThreadExecutor()
    private val main = Handler(Looper.getMainLooper())
    private var session: BundleSession? = null

    private lateinit var bundlePath: EditText
    private lateinit var textA: EditText
    private lateinit var textB: EditText
    private lateinit var output: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val pad = (16 * resources.displayMetrics.density).toInt()
        val column = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL; setPadding(pad, pad, pad, pad) }
        bundlePath = EditText(this).apply {
            hint = "bundle directory"
            setText(intent.getStringExtra("bundle") ?: DEFAULT_BUNDLE)
        }
        textA = EditText(this).apply { setText("A man is playing a guitar.") }
        textB = EditText(this).apply { setText("Someone plays an instrument.") }
        output = TextView(this).apply { textSize = 16f }
        val load = Button(this).apply { text = "Load bundle"; setOnClickListener { load() } }
        val run = Button(this).apply { text = "Run"; setOnClickListener { run() } }
        listOf(bundlePath, load, textA, textB, run, output).forEach {
            column.addView(it, LinearLayout.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, ViewGroup.LayoutParams.WRAP_CONTENT))
        }
        setContentView(ScrollView(this).apply { addView(column) })
        load()
    }

    private fun show(text: String) = main.post { output.text = text }

    private fun load() {
        val path = bundlePath.text.toString()
        show("loading $path ...")
        worker.execute {
            try {
                session?.close()
                val s = BundleSession.open(path, null, threads = 4)
                session = s
                textB.post {
                    textB.isEnabled = s.inference.takesSecondText
                    if (s.bundle.head != "encoder") textB.setText("")  // the encoder's second sentence is no pair or passage
                }
                show("${s.bundle.name}: ${s.artefact.name} (${s.runner.describe()["name"]}), head ${s.bundle.head}, " +
                    "seq_len ${s.bundle.seqLen}, vocabulary sha256 checked")
            } catch (e: Exception) {
                session = null
                show("cannot use $path:\n${e.message}")
            }
        }
    }

    private fun run() {
        val a = textA.text.toString()
        val b = textB.text.toString()
        worker.execute {
            val s = session ?: return@execute show("load a bundle first")
            try {
                if (s.bundle.head == "classifier" && b.isEmpty()) {
                    val r = s.inference.classify(a)
                    show(String.format(Locale.ROOT, "%s  %.1f%%\n%.2f ms", r.value.first, 100 * r.value.second, r.ms))
                } else if (s.inference.decodes) {
                    // the task's answer as the core decodes it, e.g. "The/DT cat/NN" or "London, Paris, ..."
                    val r = s.inference.answer(a, b.takeIf { s.inference.takesSecondText && it.isNotEmpty() })
                    show(String.format(Locale.ROOT, "%s\n%.2f ms", r.value.text, r.ms))
                } else {
                    val ea = s.inference.embed(a)
                    val eb = s.inference.embed(b)
                    val cos = io.mobilecomp.core.Pooling.cosine(ea.value, eb.value)
                    show(String.format(Locale.ROOT, "similarity %.4f\n%.2f ms + %.2f ms", cos, ea.ms, eb.ms))
                }
            } catch (e: Exception) {
                show("inference failed: ${e.message}")
            }
        }
    }

    override fun onDestroy() {
        worker.execute { session?.close() }
        worker.shutdown()
        super.onDestroy()
    }

    companion object {
        const val DEFAULT_BUNDLE = "/data/local/tmp/mobilecomp/bundle"
    }
}
