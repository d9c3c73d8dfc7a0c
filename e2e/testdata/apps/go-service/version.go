package main

// release is edited by the rebuild test: a one-file change.
const release = "1"
