package server_test

import (
	"testing"

	"github.com/authd/authd/server/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }
