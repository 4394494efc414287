// Package dmproto is the wire form of direct messages: the contact code a
// person hands out (ContactCode, base32 behind CodePrefix) and the offer
// that brings a new two-member conversation to its second member over
// Protocol (Offer, Reply), with every length bounded before the node looks
// at the content. It knows nothing of membership logs or keys: the node
// checks what the fields mean.
package dmproto
