/*
 * Hypervisor driver registry: every compiled-in driver, chosen by name
 * (the [node] hypervisor key of xenha.conf).
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "xenha/hv.h"

static const struct hv_ops *const hv_drivers[] = {
	&hv_sim_ops,
#ifdef HAVE_XEN
	&hv_xen_ops,        /* built with --with-xen (src/drivers/hv_xen.c) */
#endif
};

const struct hv_ops *hv_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(hv_drivers) / sizeof(hv_drivers[0]); i++)
		if (strcmp(hv_drivers[i]->name, name) == 0)
			return hv_drivers[i];
	return NULL;
}
