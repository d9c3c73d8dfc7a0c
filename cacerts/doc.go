// Package cacerts makes a build sandbox trust extra certificate authorities (a TLS-inspecting
// proxy's, a private registry's) without changing the build image: it reads PEM files and
// assembles the combined bundle that is bound over the image's system CA bundle.
package cacerts
