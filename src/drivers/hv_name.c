/*
 * Domain names all hypervisor drivers accept (include/xenha/hv.h).  Its own
 * file so that a program linking one driver does not pull in the registry
 * and with it every other driver's libraries.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "xenha/hv.h"

bool hv_name_ok(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	n = strnlen(name, XH_NAME_MAX);
	if (n == 0 || n >= XH_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}
