#ifndef CONSOLEGATE_CPAM_SHIM_H
#define CONSOLEGATE_CPAM_SHIM_H
#include <security/pam_appl.h>
#endif
