package password

import (
	"context"
	"testing"
)

func BenchmarkHash(b *testing.B) {
	for name, p := range map[string]Params{
		"argon2id-19MiB-t2": {Algorithm: "argon2id", MemoryKiB: 19456, Time: 2, Threads: 1},
		"bcrypt-12":         {Algorithm: "bcrypt", BcryptCost: 12},
	} {
		b.Run(name, func(b *testing.B) {
			h, err := NewHasher(p)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Hash(context.Background(), "Correct-Horse-7"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
