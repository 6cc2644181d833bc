package config

// Default sets *v to d when *v is not positive: the zero value (and a
// negative one) of a count, size or duration means "unset" in the services'
// Config structs. For a setting whose negative value means something or must
// be refused, compare with zero (cmp.Or) instead.
func Default[T ~int | ~int32 | ~int64 | ~float32 | ~float64](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
