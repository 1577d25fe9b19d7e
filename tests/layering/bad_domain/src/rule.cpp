// A domain source that breaks the include rule on purpose: the layering check must refuse it.
#include <httplib.h>

#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"
