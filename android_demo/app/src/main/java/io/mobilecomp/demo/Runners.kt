package io.mobilecomp.demo

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import io.mobilecomp.core.BundleInfo
import io.mobilecomp.core.Encoding
import io.mobilecomp.core.ModelRunner
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import java.io.File
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.LongBuffer
import java.nio.channels.FileChannel

/** Formats this app can run, by manifest "format" name (the same strings as mobilecomp's FORMATS). */
val RUNNABLE_FORMATS: Set<String> = setOf("onnx", "tflite")

/** The runner for an artefact's format; an unknown format names the known ones. */
fun openRunner(bundle: BundleInfo, artefact: BundleInfo.Artefact, file: File, threads: Int): ModelRunner =
    when (artefact.format) {
        "onnx" -> OrtRunner(bundle, file, threads)
        "tflite" -> LiteRtRunner(bundle, file, threads)
        else -> throw IllegalArgumentException("no runner for format '${artefact.format}' (known: $RUNNABLE_FORMATS)")
    }

private fun feedFor(name: String, input: Encoding): IntArray = when {
    name.contains("input_ids") -> input.inputIds
    name.contains("attention_mask") -> input.attentionMask
    name.contains("token_type_ids") -> input.tokenTypeIds
    else -> throw IllegalArgumentException("model input '$name' is not input_ids, attention_mask or token_type_ids")
}

/** ONNX Runtime for Android, CPU execution provider, int64 inputs of shape [1, seq_len]. */
class OrtRunner(bundle: BundleInfo, file: File, private val threads: Int) : ModelRunner {
    private val env: OrtEnvironment = OrtEnvironment.getEnvironment()
    private val session: OrtSession
    private val inputNames: List<String>

    init {
        val options = OrtSession.SessionOptions().apply {
            setIntraOpNumThreads(threads)
            setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT)
        }
        session = env.createSession(file.absolutePath, options)
        inputNames = session.inputNames.toList()
        require(bundle.inputs.containsAll(inputNames)) { "model inputs $inputNames differ from the manifest's ${bundle.inputs}" }
    }

    override fun describe(): MutableMap<String, Any?> = linkedMapOf(
        "name" to "onnxruntime-android", "version" to ORT_VERSION, "provider" to "CPUExecutionProvider",
        "threads" to threads, "accelerator" to null)

    override fun run(input: Encoding): MutableMap<String, FloatArray> {
        val shape = longArrayOf(1, input.length().toLong())
        val tensors = inputNames.associateWith {
            OnnxTensor.createTensor(env, LongBuffer.wrap(Encoding.toLongs(feedFor(it, input))), shape)
        }
        try {
            session.run(tensors).use { result ->
                val out = LinkedHashMap<String, FloatArray>()
                for ((name, value) in result) {
                    val tensor = value as OnnxTensor
                    val buf = tensor.floatBuffer ?: continue
                    out[name] = FloatArray(buf.remaining()).also { buf.get(it) }
                }
                return out
            }
        } finally {
            tensors.values.forEach { it.close() }
        }
    }

    override fun close() = session.close()

    companion object {
        // onnxruntime-android does not expose its version at runtime before 1.16; keep in step with app/build.gradle.kts
        const val ORT_VERSION = "1.20.0"
    }
}

/** LiteRT (TensorFlow Lite Interpreter API), CPU with XNNPACK, int32 or int64 inputs. */
class LiteRtRunner(bundle: BundleInfo, file: File, private val threads: Int) : ModelRunner {
    private val interpreter: Interpreter

    init {
        val model = FileInputStream(file).channel.use { it.map(FileChannel.MapMode.READ_ONLY, 0, it.size()) }
        interpreter = Interpreter(model, Interpreter.Options().setNumThreads(threads))
        val names = (0 until interpreter.inputTensorCount).map { interpreter.getInputTensor(it).name() }
        require(names.all { n -> bundle.inputs.any { n.contains(it) } }) {
            "model inputs $names do not map onto the manifest's ${bundle.inputs}"
        }
    }

    override fun describe(): MutableMap<String, Any?> = linkedMapOf(
        "name" to "litert", "version" to LITERT_VERSION, "provider" to "CPU (XNNPACK)",
        "threads" to threads, "accelerator" to null)

    override fun run(input: Encoding): MutableMap<String, FloatArray> {
        val inputs = Array<Any>(interpreter.inputTensorCount) { i ->
            val tensor = interpreter.getInputTensor(i)
            val values = feedFor(tensor.name(), input)
            if (tensor.shape().last() != values.size) {
                interpreter.resizeInput(i, intArrayOf(1, values.size))
            }
            when (tensor.dataType()) {
                DataType.INT64 -> ByteBuffer.allocateDirect(8 * values.size).order(ByteOrder.nativeOrder()).apply {
                    values.forEach { putLong(it.toLong()) }; rewind()
                }
                DataType.INT32 -> ByteBuffer.allocateDirect(4 * values.size).order(ByteOrder.nativeOrder()).apply {
                    values.forEach { putInt(it) }; rewind()
                }
                else -> throw IllegalArgumentException("input ${tensor.name()} is ${tensor.dataType()}, expected int32/int64")
            }
        }
        interpreter.allocateTensors()
        val outputs = HashMap<Int, Any>()
        for (i in 0 until interpreter.outputTensorCount) {
            val n = interpreter.getOutputTensor(i).numElements()
            outputs[i] = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder())
        }
        interpreter.runForMultipleInputsOutputs(inputs, outputs)
        val out = LinkedHashMap<String, FloatArray>()
        for ((i, buffer) in outputs) {
            val floats = (buffer as ByteBuffer).apply { rewind() }.asFloatBuffer()
            out[interpreter.getOutputTensor(i).name()] = FloatArray(floats.remaining()).also { floats.get(it) }
        }
        return out
    }

    override fun close() = interpreter.close()

    companion object {
        const val LITERT_VERSION = "1.0.1" // keep in step with app/build.gradle.kts
    }
}
