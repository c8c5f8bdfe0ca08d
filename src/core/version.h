/* version.h: the one version string (switchyard -V, MI version) */
#ifndef SY_VERSION_H
#define SY_VERSION_H

#define SY_VERSION "switchyard 0.1"

#endif
