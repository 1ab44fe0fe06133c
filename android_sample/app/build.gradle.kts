plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "dev.edgekit.digits"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.edgekit.digits"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_11
        targetCompatibility = JavaVersion.VERSION_11
    }

    androidResources {
        // Memory-mapping the model needs it stored uncompressed in the APK.
        noCompress += "tflite"
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_11)
    }
}

dependencies {
    implementation(project(":core"))
    implementation(libs.litert)
    implementation(libs.litert.gpu)
    implementation(libs.litert.gpu.api)
    implementation(libs.androidx.appcompat)

    androidTestImplementation(libs.androidx.test.ext.junit)
    androidTestImplementation(libs.androidx.test.runner)
}

// The model is not in git: `edgekit android RUN_DIR` copies a run's artifact here. Say so before a build that
// would produce an app with nothing to run.
val checkEdgekitModel by tasks.registering {
    description = "Checks that a model and its contract are installed in the app's assets."
    val contract = layout.projectDirectory.file("src/main/assets/edgekit/contract.json").asFile
    doLast {
        if (!contract.isFile) {
            throw GradleException(
                "No model installed: $contract is missing. From the repository root run " +
                    "`uv run edgekit android RUN_DIR --app android_sample` (see android_sample/README.md)."
            )
        }
    }
}
tasks.named("preBuild") { dependsOn(checkEdgekitModel) }
