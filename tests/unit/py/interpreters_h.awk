# tests/interpreters.tsv -> the C tests' table of interpreters (py_test_support.h includes it).
# One manifest for the C and the Python tests; this only changes its syntax.
BEGIN {
	src["pyenv"] = "PY_FROM_PYENV"; src["extras"] = "PY_FROM_EXTRAS"; src["system"] = "PY_FROM_PATH"
	print "/* Generated from tests/interpreters.tsv by tests/unit/py/interpreters_h.awk: edit that file. */"
}
{ sub(/#.*/, "") }
NF == 0 { next }
NF != 5 || !($3 in src) || ($5 != "yes" && $5 != "no") || $2 !~ /^[0-9]+$/ {
	printf "%s:%d: want: label minor pyenv|extras|system path yes|no\n", FILENAME, FNR > "/dev/stderr"
	bad = 1
	exit 1
}
{ printf "{ \"%s\", \"%s\", %s, %s, %s },\n", $1, $4, $2, $5 == "yes" ? "true" : "false", src[$3] }
END { if (bad) exit 1 }
