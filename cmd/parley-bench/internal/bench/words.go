package bench

import (
	"math/rand/v2"
	"strings"
)

// vocabulary is what TextWords messages are made of: common English chat
// words, so texts compress about as real ones do (S2 and Snappy find the
// repeated words, not a repeated message).
var vocabulary = strings.Fields(`the be to of and a in that have I it for not on with he as you do at
this but his by from they we say her she or an will my one all would there their what so up out if
about who get which go me when make can like time no just him know take people into year your good
some could them see other than then now look only come its over think also back after use two how our
work first well way even new want because any these give day most us is are was were been has had did
meeting tonight tomorrow lunch coffee train late sorry thanks ok okay sure great cool yes maybe later
call message photo file link here there where why home office school kids dinner weekend plan ready
done soon almost arrived leaving station bus traffic rain sun cold hot phone battery charge network
internet down again still working fine problem help please quick question answer update news check`)

// wordsText is message n's text: about size bytes of words, a different
// run for every n.
func wordsText(n uint64, size int) string {
	r := rand.New(rand.NewPCG(n, 0x9e3779b97f4a7c15))
	var b strings.Builder
	b.Grow(size + 16)
	for b.Len() < size {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocabulary[r.IntN(len(vocabulary))])
	}
	return b.String()[:size]
}
