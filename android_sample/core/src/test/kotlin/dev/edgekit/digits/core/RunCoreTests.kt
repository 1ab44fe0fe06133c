package dev.edgekit.digits.core

import java.io.File
import kotlin.system.exitProcess
import org.junit.internal.TextListener
import org.junit.runner.JUnitCore

/**
 * Runs every *Test class compiled next to this file, for machines with kotlinc but no Gradle:
 *   kotlinc -cp junit4.jar -d out core/src/main/kotlin core/src/test/kotlin
 *   EDGEKIT_GOLDEN=golden.json kotlin -cp out:junit4.jar:hamcrest-core.jar dev.edgekit.digits.core.RunCoreTestsKt
 * Prints one summary line (run, failed, skipped) and exits non-zero on any failure.
 */
fun main() {
    val root = File(GoldenVectorsTest::class.java.protectionDomain.codeSource.location.toURI())
    val classes = root.walk()
        .filter { it.isFile && it.name.endsWith("Test.class") }
        .map { it.relativeTo(root).path.removeSuffix(".class").replace(File.separatorChar, '.') }
        .sorted()
        .map { Class.forName(it) }
        .toList()
    val core = JUnitCore()
    core.addListener(TextListener(System.out))
    val result = core.run(*classes.toTypedArray())
    println("core tests: ${result.runCount} run, ${result.failureCount} failed, ${result.assumptionFailureCount} skipped")
    exitProcess(if (result.wasSuccessful()) 0 else 1)
}
