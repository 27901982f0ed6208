#ifndef LLM_DEPLOY_CFASTCGI_SHIM_H
#define LLM_DEPLOY_CFASTCGI_SHIM_H
// libfcgi's reentrant API (fcgiapp.h): FCGX_Init, FCGX_OpenSocket, FCGX_InitRequest,
// FCGX_Accept_r, FCGX_GetStr, FCGX_PutStr, FCGX_Finish_r.
#include <fcgiapp.h>
#endif
