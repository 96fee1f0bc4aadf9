package io.mobilecomp.demo

import io.mobilecomp.core.BundleInfo
import io.mobilecomp.core.ModelRunner
import java.io.Closeable
import java.io.File

/**
 * A bundle opened for running: manifest read, vocabulary hash checked (BundleInfo.open refuses a
 * mismatch), artefact chosen and its sha256 checked, runner created.
 */
class BundleSession private constructor(
    val bundle: BundleInfo,
    val artefact: BundleInfo.Artefact,
    val runner: ModelRunner,
) : Closeable {
    val inference = Inference(bundle, runner)

    override fun close() = runner.close()

    companion object {
        fun open(path: String, artefactName: String?, threads: Int, verifyHash: Boolean = true): BundleSession {
            val bundle = BundleInfo.open(File(path))
            val artefact = bundle.artefact(artefactName, RUNNABLE_FORMATS)
            val file = bundle.artefactFile(artefact, verifyHash)
            return BundleSession(bundle, artefact, openRunner(bundle, artefact, file, threads))
        }
    }
}
