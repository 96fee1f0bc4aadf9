// Platform-independent core: tokenizers (WordPiece, byte-level BPE, SentencePiece Unigram), packing, pooling,
// latency statistics, result JSON.
// Plain Java 8 APIs only (what Android minSdk 24 offers), no dependencies outside tests.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_1_8
    targetCompatibility = JavaVersion.VERSION_1_8
}

tasks.withType<JavaCompile>().configureEach {
    options.encoding = "UTF-8"
}

dependencies {
    testImplementation("junit:junit:4.13.2")
    testImplementation("org.hamcrest:hamcrest-core:1.3")
}

tasks.test {
    // The same properties android_demo/core/run-tests.sh passes.
    systemProperty("mobilecomp.vectors", (findProperty("vectors") ?: "").toString())
    systemProperty("mobilecomp.bundle", (findProperty("bundle") ?: "").toString())
    // several vector files and bundles (one per tokenizer kind), joined by the path separator, pairwise
    systemProperty("mobilecomp.allVectors", (findProperty("allVectors") ?: "").toString())
    systemProperty("mobilecomp.allBundles", (findProperty("allBundles") ?: "").toString())
    systemProperty("mobilecomp.minReal", (findProperty("minReal") ?: "500").toString())
    systemProperty("mobilecomp.appResultOut", (findProperty("appResultOut") ?: "").toString())
    testLogging { showStandardStreams = true; events("failed"); exceptionFormat = org.gradle.api.tasks.testing.logging.TestExceptionFormat.FULL }
}
