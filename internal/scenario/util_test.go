package scenario

import "github.com/google/gopacket"

func layersPayload(s string) gopacket.Payload { return gopacket.Payload([]byte(s)) }
