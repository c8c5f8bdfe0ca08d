/* regex.c: a bound on the script's regular expressions before regcomp sees them.
 *
 * glibc's regcomp expands a counted repetition by copying its operand ("(a{100}){100}" is
 * 10,000 copies) and accepts stacked repetition operators ("a+++++", undefined in POSIX ERE,
 * XBD 9.4.6), whose trees grow exponentially: one line of a config could make the proxy take
 * gigabytes at load (found by fuzz_script_run). This pass walks the pattern once, as an ERE,
 * and estimates the number of atoms regcomp will build: each atom counts 1, a group counts
 * what is inside it, and "{n,m}" multiplies the operand it follows by m (n + 1 when open).
 * Leaf code: no allocation, no globals. */
#include <errno.h>
#include <stddef.h>

#include "script/internal.h"

#define RX_MAX_DEPTH 32

/* length of the bracket expression at p (p[0] == '['), or 0 if it is not closed */
static size_t rx_bracket(const char *p, size_t n)
{
	size_t i = 1;

	if (i < n && p[i] == '^')
		i++;
	if (i < n && p[i] == ']')
		i++;	/* a ']' first is a member, not the end */
	for (; i < n; i++) {
		if (p[i] == '[' && i + 1 < n && (p[i + 1] == ':' || p[i + 1] == '.' ||
						 p[i + 1] == '=')) {
			char kind = p[i + 1];

			/* [:alpha:] [.x.] [=e=] end at the matching "kind]" */
			for (i += 2; i + 1 < n && !(p[i] == kind && p[i + 1] == ']'); i++)
				;
			if (i + 1 >= n)
				return 0;
			i++;
			continue;
		}
		if (p[i] == ']')
			return i + 1;
	}
	return 0;
}

/* "{n}", "{n,}", "{n,m}" at p: its length and the multiplier it applies; 0 if malformed
 * (regcomp then reports it) */
static size_t rx_interval(const char *p, size_t n, unsigned long *mult)
{
	unsigned long lo = 0, hi = 0;
	size_t i = 1;
	int open = 0, comma = 0;

	while (i < n && p[i] >= '0' && p[i] <= '9' && lo < 100000)
		lo = lo * 10 + (unsigned long)(p[i++] - '0');
	if (i < n && p[i] == ',') {
		comma = 1;
		i++;
		if (i < n && p[i] == '}')
			open = 1;
		while (i < n && p[i] >= '0' && p[i] <= '9' && hi < 100000)
			hi = hi * 10 + (unsigned long)(p[i++] - '0');
	}
	if (i >= n || p[i] != '}')
		return 0;
	*mult = !comma ? lo : open ? lo + 1 : hi;
	if (*mult == 0)
		*mult = 1;
	return i + 1;
}

int scr_regex_check(sy_str pat, unsigned long max_atoms, size_t *off, const char **why)
{
	unsigned long total[RX_MAX_DEPTH], last[RX_MAX_DEPTH];
	const char *p = pat.s;
	size_t n = pat.len, i = 0, k = 0;
	unsigned d = 0;
	int after_rep = 0;	/* the previous token was a repetition operator */

	total[0] = 0;
	last[0] = 0;
	while (i < n) {
		char ch = p[i];
		unsigned long mult = 1;

		*off = i;
		if (ch == '*' || ch == '+' || ch == '?' ||
		    (ch == '{' && (k = rx_interval(p + i, n - i, &mult)))) {
			if (after_rep) {
				*why = "repetition operators in a row (undefined in POSIX ERE)";
				return EINVAL;
			}
			after_rep = 1;
			if (ch != '{') {
				mult = ch == '+' ? 2 : 1;	/* glibc builds "a+" as "aa*" */
				k = 1;
			}
			/* the operand is counted once already: add the other copies */
			total[d] += last[d] * (mult - 1);
			last[d] *= mult;
			i += k;
		} else {
			after_rep = 0;
			if (ch == '(') {
				if (++d >= RX_MAX_DEPTH) {
					*why = "groups nested too deep";
					return EINVAL;
				}
				total[d] = 0;
				last[d] = 0;
				i++;
				continue;
			}
			if (ch == ')' && d > 0) {
				unsigned long g = total[d] ? total[d] : 1;

				d--;
				total[d] += g;
				last[d] = g;
				i++;
			} else if (ch == '|') {
				last[d] = 0;
				i++;
				continue;
			} else {
				if (ch == '[' && (k = rx_bracket(p + i, n - i)))
					i += k;
				else if (ch == '\\' && i + 1 < n)
					i += 2;
				else
					i++;
				total[d] += 1;
				last[d] = 1;
			}
		}
		if (total[d] > max_atoms) {
			*why = "expands to too many states (nested counted repetition)";
			return EINVAL;
		}
	}
	return 0;
}
