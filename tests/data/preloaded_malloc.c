/* a malloc put before libc's, as LD_PRELOAD of jemalloc or tcmalloc puts one: its blocks
   start 32 bytes (or the alignment) into libc's, so libc's own free of one aborts */
#include <stddef.h>
#include <string.h>
extern void *__libc_malloc(size_t); extern void __libc_free(void *); extern void *__libc_memalign(size_t, size_t);
static void *wrap(char *raw, size_t off, size_t n) {
    if (!raw) return 0;
    char *p = raw + off; ((size_t *)p)[-1] = 0; ((void **)p)[-2] = raw; ((size_t *)p)[-3] = n; return p;
}
void *malloc(size_t n) { return wrap(__libc_malloc(n + 32), 32, n); }
void *calloc(size_t a, size_t b) { void *p = malloc(a * b); if (p) memset(p, 0, a * b); return p; }
void free(void *p) { if (p) __libc_free(((void **)p)[-2]); }
void *realloc(void *p, size_t n) {
    void *q = malloc(n); if (!q || !p) return q;
    size_t old = ((size_t *)p)[-3]; memcpy(q, p, old < n ? old : n); free(p); return q;
}
void *memalign(size_t a, size_t n) { size_t off = a < 32 ? 32 : a; return wrap(__libc_memalign(a, n + off), off, n); }
void *aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void **r, size_t a, size_t n) { void *p = memalign(a, n); if (!p) return 12; *r = p; return 0; }
void *valloc(size_t n) { return memalign(4096, n); }
void *pvalloc(size_t n) { return memalign(4096, (n + 4095) & ~(size_t)4095); }
