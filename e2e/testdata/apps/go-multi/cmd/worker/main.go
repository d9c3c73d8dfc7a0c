package main

import (
	"fmt"

	"example.com/multi/internal/greet"
)

func main() { fmt.Println(greet.Hello("worker")) }
