// Pure Kotlin/JVM: no Android imports, so its tests run on any JDK (and with plain kotlinc in edgekit's CI).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

java {
    sourceCompatibility = JavaVersion.VERSION_11
    targetCompatibility = JavaVersion.VERSION_11
}

kotlin {
    compilerOptions {
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_11)
    }
}

dependencies {
    // contract.json is read with Gson, strictly (see ModelContract.parseJson); Debian's libgoogle-gson-java on CI.
    implementation(libs.gson)
    testImplementation(libs.junit)
}

tasks.test {
    // ./gradlew :core:test -Pedgekit.golden=/path/golden.json [-Pedgekit.contract=/path/contract.json]
    // Without them the golden-vector tests are skipped; edgekit's CI always passes them (tests/test_android.py).
    for (name in listOf("edgekit.golden", "edgekit.contract")) {
        providers.gradleProperty(name).orNull?.let {
            val path = file(it)
            inputs.file(path)
            systemProperty(name, path.absolutePath)
        }
    }
}
