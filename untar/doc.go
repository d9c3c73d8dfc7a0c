// Package untar writes tar streams (buildpack archives, image layers, cached layers) into
// a directory and never outside it, within a size budget.
package untar
