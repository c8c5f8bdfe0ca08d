/* lexer.c: tokens of the OpenSIPS-dialect routing script. Hand-written, one token of state;
 * positions are 1-based line:col (bytes) for the "file:line:col: message" diagnostics.
 * Comments: '#' to end of line and C-style block comments (as OpenSIPS: no '//'). "#!" lines (Kamailio/OpenSIPS
 * preprocessor) are rejected with one error each. Strings take "..." or '...' with the
 * escapes \" \' \\ \n \r \t; a string may not run past its line, so an unterminated one is
 * reported where it starts and lexing resumes on the next line. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "script/internal.h"

void scr_lex_init(struct scr_lexer *lx, const char *src, size_t len, struct scr_pool *pool,
		  struct scr_diag *diag)
{
	lx->src = src;
	lx->len = len;
	lx->pos = 0;
	lx->line = 1;
	lx->col = 1;
	lx->pool = pool;
	lx->diag = diag;
}

static int peekc(const struct scr_lexer *lx, size_t ahead)
{
	return lx->pos + ahead < lx->len ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

static void adv(struct scr_lexer *lx)
{
	if (lx->pos >= lx->len)
		return;
	if (lx->src[lx->pos] == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	lx->pos++;
}

static void skip_line(struct scr_lexer *lx)
{
	while (lx->pos < lx->len && lx->src[lx->pos] != '\n')
		adv(lx);
}

/* whitespace and comments; returns with pos at a token or the end */
static void skip_space(struct scr_lexer *lx)
{
	for (;;) {
		int c = peekc(lx, 0);

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
			adv(lx);
		} else if (c == '#') {
			if (peekc(lx, 1) == '!' && lx->col == 1)
				scr_diag(lx->diag, lx->line, lx->col,
					 "preprocessor directives ('#!') are not supported");
			skip_line(lx);
		} else if (c == '/' && peekc(lx, 1) == '*') {
			unsigned l = lx->line, co = lx->col;

			adv(lx);
			adv(lx);
			while (lx->pos < lx->len && !(peekc(lx, 0) == '*' && peekc(lx, 1) == '/'))
				adv(lx);
			if (lx->pos >= lx->len) {
				scr_diag(lx->diag, l, co, "unterminated comment");
				return;
			}
			adv(lx);
			adv(lx);
		} else {
			return;
		}
	}
}

static int is_name_start(int c) { return c == '_' || (c >= 0 && isalpha(c)); }
static int is_name_char(int c) { return c == '_' || (c >= 0 && isalnum(c)); }

static void lex_string(struct scr_lexer *lx, struct scr_token *tk)
{
	int q = peekc(lx, 0);
	size_t start, n = 0;
	char *out;

	adv(lx);
	start = lx->pos;
	/* first pass: find the end */
	while (lx->pos < lx->len) {
		int c = peekc(lx, 0);

		if (c == q || c == '\n')
			break;
		if (c == '\\' && peekc(lx, 1) != -1 && peekc(lx, 1) != '\n')
			adv(lx);
		adv(lx);
	}
	if (peekc(lx, 0) != q) {
		scr_diag(lx->diag, tk->line, tk->col, "unterminated string");
		tk->t = TK_ERR;
		return;
	}
	out = scr_pool_alloc(lx->pool, lx->pos - start + 1);
	if (!out) {
		scr_diag(lx->diag, tk->line, tk->col, "out of memory");
		tk->t = TK_ERR;
		adv(lx);
		return;
	}
	for (size_t i = start; i < lx->pos; i++) {
		char c = lx->src[i];

		if (c == '\\' && i + 1 < lx->pos) {
			c = lx->src[++i];
			switch (c) {
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			default: break;	/* \" \' \\ and unknown: the character itself */
			}
		}
		out[n++] = c;
	}
	adv(lx);	/* closing quote */
	tk->t = TK_STR;
	tk->sval = sy_str_make(out, n);
}

/* $name, $name(arg) with balanced parentheses on one line */
static void lex_pvar(struct scr_lexer *lx, struct scr_token *tk)
{
	adv(lx);
	if (!is_name_start(peekc(lx, 0))) {
		scr_diag(lx->diag, tk->line, tk->col, "bad pseudo-variable name");
		tk->t = TK_ERR;
		return;
	}
	while (is_name_char(peekc(lx, 0)))
		adv(lx);
	if (peekc(lx, 0) == '(') {
		int depth = 0;

		do {
			int c = peekc(lx, 0);

			if (c == -1 || c == '\n') {
				scr_diag(lx->diag, tk->line, tk->col,
					 "unterminated pseudo-variable");
				tk->t = TK_ERR;
				return;
			}
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			adv(lx);
		} while (depth > 0);
	}
	tk->t = TK_PVAR;
}

static void lex_int(struct scr_lexer *lx, struct scr_token *tk)
{
	long v = 0;
	int over = 0;

	while (peekc(lx, 0) >= '0' && peekc(lx, 0) <= '9') {
		int d = peekc(lx, 0) - '0';

		if (v > (LONG_MAX - d) / 10)
			over = 1;
		else
			v = v * 10 + d;
		adv(lx);
	}
	if (is_name_char(peekc(lx, 0))) {
		/* "10s", "2abc": not a number; take it as a name so the parser reports it */
		while (is_name_char(peekc(lx, 0)))
			adv(lx);
		tk->t = TK_IDENT;
		return;
	}
	if (over) {
		scr_diag(lx->diag, tk->line, tk->col, "integer out of range");
		tk->t = TK_ERR;
		return;
	}
	tk->t = TK_INT;
	tk->ival = v;
}

void scr_lex_next(struct scr_lexer *lx, struct scr_token *tk)
{
	int c, c1;

	skip_space(lx);
	memset(tk, 0, sizeof(*tk));
	tk->line = lx->line;
	tk->col = lx->col;
	size_t start = lx->pos;

	c = peekc(lx, 0);
	c1 = peekc(lx, 1);
	if (c == -1) {
		tk->t = TK_EOF;
	} else if (is_name_start(c)) {
		while (is_name_char(peekc(lx, 0)))
			adv(lx);
		tk->t = TK_IDENT;
	} else if (c >= '0' && c <= '9') {
		lex_int(lx, tk);
	} else if (c == '"' || c == '\'') {
		lex_string(lx, tk);
	} else if (c == '$') {
		lex_pvar(lx, tk);
	} else {
		enum scr_tok t = TK_ERR;
		int two = 0;

		switch (c) {
		case '{': t = TK_LBRACE; break;
		case '}': t = TK_RBRACE; break;
		case '[': t = TK_LBRACK; break;
		case ']': t = TK_RBRACK; break;
		case '(': t = TK_LPAREN; break;
		case ')': t = TK_RPAREN; break;
		case ';': t = TK_SEMI; break;
		case ',': t = TK_COMMA; break;
		case ':':
			/* ":=" (OpenSIPS: assign, dropping other values) is "=" here */
			if (c1 == '=') { t = TK_ASSIGN; two = 1; }
			else t = TK_COLON;
			break;
		case '+': t = TK_PLUS; break;
		case '-': t = TK_MINUS; break;
		case '*': t = TK_MUL; break;
		case '/': t = TK_DIV; break;
		case '%': t = TK_MOD; break;
		case '=':
			if (c1 == '=') { t = TK_EQ; two = 1; }
			else if (c1 == '~') { t = TK_MATCH; two = 1; }
			else t = TK_ASSIGN;
			break;
		case '!':
			if (c1 == '=') { t = TK_NE; two = 1; }
			else if (c1 == '~') { t = TK_NMATCH; two = 1; }
			else t = TK_NOT;
			break;
		case '<':
			if (c1 == '=') { t = TK_LE; two = 1; }
			else t = TK_LT;
			break;
		case '>':
			if (c1 == '=') { t = TK_GE; two = 1; }
			else t = TK_GT;
			break;
		case '&':
			if (c1 == '&') { t = TK_AND; two = 1; }
			else t = TK_BAND;
			break;
		case '|':
			if (c1 == '|') { t = TK_OR; two = 1; }
			else t = TK_BOR;
			break;
		default:
			break;
		}
		/* compound assignment: the operator followed by '=' */
		if (!two && c1 == '=' && (t == TK_PLUS || t == TK_MINUS || t == TK_MUL ||
					  t == TK_DIV || t == TK_MOD || t == TK_BOR ||
					  t == TK_BAND)) {
			tk->ival = t;
			t = TK_OPASSIGN;
			two = 1;
		}
		adv(lx);
		if (two)
			adv(lx);
		if (t == TK_ERR) {
			if (c >= 0x20 && c < 0x7f)
				scr_diag(lx->diag, tk->line, tk->col, "unexpected character '%c'", c);
			else
				scr_diag(lx->diag, tk->line, tk->col,
					 "unexpected byte 0x%02x", (unsigned)c);
		}
		tk->t = t;
	}
	tk->text = sy_str_make(lx->src + start, lx->pos - start);
	tk->eline = lx->line;
	tk->ecol = lx->col;
}

sy_str scr_lex_raw(struct scr_lexer *lx, unsigned *line, unsigned *col)
{
	size_t start, end;

	while (peekc(lx, 0) == ' ' || peekc(lx, 0) == '\t')
		adv(lx);
	*line = lx->line;
	*col = lx->col;
	start = lx->pos;
	while (lx->pos < lx->len) {
		int c = peekc(lx, 0);

		if (c == '\n' || c == '#' || c == ';' || c == '\r')
			break;
		adv(lx);
	}
	end = lx->pos;
	while (end > start && (lx->src[end - 1] == ' ' || lx->src[end - 1] == '\t'))
		end--;
	return sy_str_make(lx->src + start, end - start);
}

const char *scr_tok_name(enum scr_tok t)
{
	static const char *const names[] = {
		[TK_EOF] = "end of file", [TK_ERR] = "invalid token", [TK_IDENT] = "name",
		[TK_INT] = "integer", [TK_STR] = "string", [TK_PVAR] = "pseudo-variable",
		[TK_LBRACE] = "'{'", [TK_RBRACE] = "'}'", [TK_LBRACK] = "'['",
		[TK_RBRACK] = "']'", [TK_LPAREN] = "'('", [TK_RPAREN] = "')'",
		[TK_SEMI] = "';'", [TK_COMMA] = "','", [TK_COLON] = "':'",
		[TK_ASSIGN] = "'='", [TK_EQ] = "'=='", [TK_NE] = "'!='", [TK_LT] = "'<'",
		[TK_GT] = "'>'", [TK_LE] = "'<='", [TK_GE] = "'>='", [TK_MATCH] = "'=~'",
		[TK_NMATCH] = "'!~'", [TK_AND] = "'&&'", [TK_OR] = "'||'", [TK_NOT] = "'!'",
		[TK_PLUS] = "'+'", [TK_MINUS] = "'-'", [TK_MUL] = "'*'", [TK_DIV] = "'/'",
		[TK_BOR] = "'|'", [TK_BAND] = "'&'", [TK_MOD] = "'%'",
		[TK_OPASSIGN] = "compound assignment",
	};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "token";
}
