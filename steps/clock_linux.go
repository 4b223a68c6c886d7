package steps

import "syscall"

// clockSynchronised asks the kernel whether its clock is synchronised (NTP
// or PTP through adjtimex): STA_UNSYNC clear means it is.
func clockSynchronised() (bool, bool) {
	var tx syscall.Timex
	state, err := syscall.Adjtimex(&tx)
	if err != nil {
		return false, false
	}
	const timeError = 5                                    // TIME_ERROR: the clock is not synchronised
	return state != timeError && tx.Status&0x40 == 0, true // 0x40 is STA_UNSYNC
}
