// Package java is the Slipway Java buildpack: a JVM from Debian packages (or an
// Adoptium-API mirror), Maven or Gradle builds, executable and Spring Boot jars, and a
// launch-time JVM memory calculation that fits the container.
package java
