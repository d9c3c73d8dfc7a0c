// Package lifecycle implements the CNB phases (detect, build, export) as library functions.
package lifecycle
