// Package ids makes resource ids shaped as Alibaba Cloud's: a prefix and
// 20 characters of [a-z0-9] (imc-..., cct-...).
package ids

import (
	"crypto/rand"
	"fmt"
)

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// Suffix returns 20 random characters of [a-z0-9].
func Suffix() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}
