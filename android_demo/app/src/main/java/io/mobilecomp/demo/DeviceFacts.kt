package io.mobilecomp.demo

import android.content.Context
import android.os.Build

/** The result's "device" and "app" objects (MLPerf-style: maker, model, SoC, OS, build). */
object DeviceFacts {
    fun device(): MutableMap<String, Any?> = linkedMapOf(
        "manufacturer" to Build.MANUFACTURER,
        "model" to Build.MODEL,
        "soc" to (if (Build.VERSION.SDK_INT >= 31) "${Build.SOC_MANUFACTURER} ${Build.SOC_MODEL}" else Build.HARDWARE),
        "hardware" to Build.HARDWARE,
        "abi" to Build.SUPPORTED_ABIS.firstOrNull(),
        "android" to Build.VERSION.RELEASE,
        "sdk" to Build.VERSION.SDK_INT,
        "cores" to Runtime.getRuntime().availableProcessors(),
        "fingerprint" to Build.FINGERPRINT,
    )

    @Suppress("DEPRECATION")
    fun app(context: Context): MutableMap<String, Any?> {
        val info = context.packageManager.getPackageInfo(context.packageName, 0)
        return linkedMapOf("package" to context.packageName, "version" to info.versionName,
            "debuggable" to ((context.applicationInfo.flags and android.content.pm.ApplicationInfo.FLAG_DEBUGGABLE) != 0))
    }
}
