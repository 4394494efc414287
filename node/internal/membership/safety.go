package membership

import (
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
)

// SafetyNumberDigits is the length of a safety number: 20 decimal digits
// (about 66 bits), shown in four groups of five.
const SafetyNumberDigits = 20

// SafetyNumber is the short fingerprint people compare out of band to check
// a member's identity key: SHA-256("parley/safety-number/v1" || key), the
// first 16 bytes read as a big-endian integer modulo 10^20, zero-padded and
// split into groups of five digits ("01234 56789 01234 56789"). It depends
// on the key alone, so it never changes for a member and is the same in
// every group.
func SafetyNumber(k Key) string {
	sum := sha256.Sum256(append([]byte("parley/safety-number/v1\x00"), k[:]...))
	mod := new(big.Int).Exp(big.NewInt(10), big.NewInt(SafetyNumberDigits), nil)
	n := new(big.Int).Mod(new(big.Int).SetBytes(sum[:16]), mod)
	digits := fmt.Sprintf("%0*s", SafetyNumberDigits, n.String())
	var b strings.Builder
	for i := 0; i < len(digits); i += 5 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(digits[i : i+5])
	}
	return b.String()
}
