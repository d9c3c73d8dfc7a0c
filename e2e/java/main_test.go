package java

import (
	"testing"

	"github.com/slipway/slipway/internal/e2ekit"
)

func TestMain(m *testing.M) { e2ekit.Main(m) }
