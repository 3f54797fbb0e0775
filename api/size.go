package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the suffixes an EmptyDir SizeLimit may carry; a bare number
// is in GiB, as the reference defines it.
var sizeUnits = []struct {
	suffix string
	bytes  float64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// ParseSizeLimit returns an EmptyDir SizeLimit in bytes: "2" and "0.5" are
// GiB; "512Mi" or "1Gi" carry their own unit.
func ParseSizeLimit(s string) (int64, error) {
	num, unit := s, float64(1<<30)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, unit = strings.TrimSuffix(s, u.suffix), u.bytes
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f*unit > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size (a positive number of GiB, like 2 or 0.5, or a quantity like 512Mi)", s)
	}
	return int64(math.Ceil(f * unit)), nil
}
