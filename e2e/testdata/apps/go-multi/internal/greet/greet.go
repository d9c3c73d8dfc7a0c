// Package greet is shared by both commands; it is not a main package.
package greet

// Hello greets who.
func Hello(who string) string { return "hello from " + who }
