/* The EGL floor: what hwspec's EGL worker must do. Load libEGL (libglvnd), open a display per EGL
 * device (EGL_EXT_platform_device), else Mesa's surfaceless display, and on each: one OpenGL ES
 * context (3, else 2) made current without a surface, its version read and, at standard, one
 * 64×64 render (hwspec-core/src/backends/egl/render.rs: clear, a shaded quad over the left half,
 * read back, every pixel compared); then, where the display offers desktop OpenGL, one OpenGL
 * context for its version, which the capability `opengl` needs. One context per API. */
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <GLES2/gl2ext.h>

#include "floor.h"

#define SIDE 64

static struct {
    __typeof__(&eglGetProcAddress) get_proc;
    __typeof__(&eglQueryString) query_string;
    __typeof__(&eglInitialize) initialize;
    __typeof__(&eglBindAPI) bind_api;
    __typeof__(&eglChooseConfig) choose_config;
    __typeof__(&eglCreateContext) create_context;
    __typeof__(&eglMakeCurrent) make_current;
    __typeof__(&eglGetError) get_error;
    PFNEGLQUERYDEVICESEXTPROC query_devices;
    PFNEGLGETPLATFORMDISPLAYEXTPROC platform_display;
} egl;

static struct {
    __typeof__(&glGetString) get_string;
    __typeof__(&glGetError) get_error;
    __typeof__(&glGenFramebuffers) gen_framebuffers;
    __typeof__(&glBindFramebuffer) bind_framebuffer;
    __typeof__(&glGenRenderbuffers) gen_renderbuffers;
    __typeof__(&glBindRenderbuffer) bind_renderbuffer;
    __typeof__(&glRenderbufferStorage) renderbuffer_storage;
    __typeof__(&glFramebufferRenderbuffer) framebuffer_renderbuffer;
    __typeof__(&glCheckFramebufferStatus) check_framebuffer;
    __typeof__(&glViewport) viewport;
    __typeof__(&glClearColor) clear_color;
    __typeof__(&glClear) clear;
    __typeof__(&glCreateShader) create_shader;
    __typeof__(&glShaderSource) shader_source;
    __typeof__(&glCompileShader) compile_shader;
    __typeof__(&glGetShaderiv) get_shader;
    __typeof__(&glCreateProgram) create_program;
    __typeof__(&glAttachShader) attach_shader;
    __typeof__(&glBindAttribLocation) bind_attrib;
    __typeof__(&glLinkProgram) link_program;
    __typeof__(&glGetProgramiv) get_program;
    __typeof__(&glUseProgram) use_program;
    __typeof__(&glEnableVertexAttribArray) enable_attrib;
    __typeof__(&glVertexAttribPointer) attrib_pointer;
    __typeof__(&glDrawArrays) draw_arrays;
    __typeof__(&glFinish) finish;
    __typeof__(&glReadPixels) read_pixels;
} gl;

static void *gl_proc(const char *name)
{
    void *f = (void *)egl.get_proc(name);
    if (!f)
        floor_answer("egl", "unusable", "load-failed: eglGetProcAddress(%s) is NULL", name);
    return f;
}

static void resolve_gl(void)
{
#define GL_FN(field, name) gl.field = (__typeof__(gl.field))gl_proc(name)
    GL_FN(get_string, "glGetString");
    GL_FN(get_error, "glGetError");
    GL_FN(gen_framebuffers, "glGenFramebuffers");
    GL_FN(bind_framebuffer, "glBindFramebuffer");
    GL_FN(gen_renderbuffers, "glGenRenderbuffers");
    GL_FN(bind_renderbuffer, "glBindRenderbuffer");
    GL_FN(renderbuffer_storage, "glRenderbufferStorage");
    GL_FN(framebuffer_renderbuffer, "glFramebufferRenderbuffer");
    GL_FN(check_framebuffer, "glCheckFramebufferStatus");
    GL_FN(viewport, "glViewport");
    GL_FN(clear_color, "glClearColor");
    GL_FN(clear, "glClear");
    GL_FN(create_shader, "glCreateShader");
    GL_FN(shader_source, "glShaderSource");
    GL_FN(compile_shader, "glCompileShader");
    GL_FN(get_shader, "glGetShaderiv");
    GL_FN(create_program, "glCreateProgram");
    GL_FN(attach_shader, "glAttachShader");
    GL_FN(bind_attrib, "glBindAttribLocation");
    GL_FN(link_program, "glLinkProgram");
    GL_FN(get_program, "glGetProgramiv");
    GL_FN(use_program, "glUseProgram");
    GL_FN(enable_attrib, "glEnableVertexAttribArray");
    GL_FN(attrib_pointer, "glVertexAttribPointer");
    GL_FN(draw_arrays, "glDrawArrays");
    GL_FN(finish, "glFinish");
    GL_FN(read_pixels, "glReadPixels");
}

static int has(const char *list, const char *name)
{
    size_t length = strlen(name);
    for (const char *p = list; p && (p = strstr(p, name)) != NULL; p += length)
        if ((p == list || p[-1] == ' ') && (p[length] == ' ' || p[length] == '\0'))
            return 1;
    return 0;
}

/* A context for `api` on `display`, current without a surface (or on a 1×1 pbuffer where the
 * display lacks EGL_KHR_surfaceless_context). ES asks for 3, then 2. */
static int make_context(EGLDisplay display, EGLenum api, int surfaceless)
{
    if (!egl.bind_api(api))
        return 0;
    EGLint es3[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_NONE};
    EGLint es2[] = {EGL_CONTEXT_MAJOR_VERSION, 2, EGL_NONE};
    EGLint plain[] = {EGL_NONE};
    struct {
        EGLint renderable;
        EGLint *attributes;
    } tries[2] = {{EGL_OPENGL_ES3_BIT, es3}, {EGL_OPENGL_ES2_BIT, es2}};
    int count = 2;
    if (api == EGL_OPENGL_API) {
        tries[0].renderable = EGL_OPENGL_BIT;
        tries[0].attributes = plain;
        count = 1;
    }
    for (int t = 0; t < count; t++) {
        EGLint config_attributes[] = {EGL_RENDERABLE_TYPE, tries[t].renderable, EGL_SURFACE_TYPE,
                                      surfaceless ? 0 : EGL_PBUFFER_BIT, EGL_NONE};
        EGLConfig config;
        EGLint configs = 0;
        if (!egl.choose_config(display, config_attributes, &config, 1, &configs) || configs < 1)
            continue;
        EGLContext context =
            egl.create_context(display, config, EGL_NO_CONTEXT, tries[t].attributes);
        if (context == EGL_NO_CONTEXT)
            continue;
        EGLSurface surface = EGL_NO_SURFACE;
        if (!surfaceless) {
            PFNEGLCREATEPBUFFERSURFACEPROC pbuffer =
                (PFNEGLCREATEPBUFFERSURFACEPROC)egl.get_proc("eglCreatePbufferSurface");
            EGLint size[] = {EGL_WIDTH, 1, EGL_HEIGHT, 1, EGL_NONE};
            surface = pbuffer ? pbuffer(display, config, size) : EGL_NO_SURFACE;
            if (surface == EGL_NO_SURFACE)
                return 0;
        }
        return egl.make_current(display, surface, surface, context) == EGL_TRUE;
    }
    return 0;
}

static GLuint shader(GLenum kind, const char *source)
{
    GLuint s = gl.create_shader(kind);
    gl.shader_source(s, 1, &source, NULL);
    gl.compile_shader(s);
    GLint ok = 0;
    gl.get_shader(s, GL_COMPILE_STATUS, &ok);
    if (!ok)
        floor_answer("egl", "failed", "build-failed: a shader did not compile");
    return s;
}

/* render.rs's image with the current ES context; the largest channel difference. */
static int render(void)
{
    static const char vertex[] = "#version 100\nattribute vec2 position;\n"
                                 "void main() { gl_Position = vec4(position, 0.0, 1.0); }\n";
    static const char fragment[] =
        "#version 100\nprecision mediump float;\nvoid main() {\n"
        "    vec2 p = floor(gl_FragCoord.xy);\n"
        "    gl_FragColor = vec4(p.x * 4.0 / 255.0, p.y * 4.0 / 255.0, 64.0 / 255.0, 1.0);\n}\n";
    static const GLfloat left_half[] = {-1, -1, 0, -1, -1, 1, 0, 1};
    GLuint framebuffer, renderbuffer;
    gl.gen_framebuffers(1, &framebuffer);
    gl.bind_framebuffer(GL_FRAMEBUFFER, framebuffer);
    gl.gen_renderbuffers(1, &renderbuffer);
    gl.bind_renderbuffer(GL_RENDERBUFFER, renderbuffer);
    gl.renderbuffer_storage(GL_RENDERBUFFER, GL_RGBA8_OES, SIDE, SIDE);
    gl.framebuffer_renderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER,
                                renderbuffer);
    if (gl.check_framebuffer(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE)
        floor_answer("egl", "failed", "launch-failed: the framebuffer is incomplete");
    gl.viewport(0, 0, SIDE, SIDE);
    gl.clear_color(1, 0, 1, 1);
    gl.clear(GL_COLOR_BUFFER_BIT);
    GLuint program = gl.create_program();
    gl.attach_shader(program, shader(GL_VERTEX_SHADER, vertex));
    gl.attach_shader(program, shader(GL_FRAGMENT_SHADER, fragment));
    gl.bind_attrib(program, 0, "position");
    gl.link_program(program);
    GLint linked = 0;
    gl.get_program(program, GL_LINK_STATUS, &linked);
    if (!linked)
        floor_answer("egl", "failed", "build-failed: the program did not link");
    gl.use_program(program);
    gl.enable_attrib(0);
    gl.attrib_pointer(0, 2, GL_FLOAT, GL_FALSE, 0, left_half);
    gl.draw_arrays(GL_TRIANGLE_STRIP, 0, 4);
    gl.finish();
    static unsigned char pixels[SIDE * SIDE * 4];
    gl.read_pixels(0, 0, SIDE, SIDE, GL_RGBA, GL_UNSIGNED_BYTE, pixels);
    if (gl.get_error() != GL_NO_ERROR)
        floor_answer("egl", "failed", "launch-failed: a GL call failed");
    int worst = 0;
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            const unsigned char *p = pixels + (y * SIDE + x) * 4;
            int want[4] = {255, 0, 255, 255};
            if (x < SIDE / 2) {
                want[0] = x * 4;
                want[1] = y * 4;
                want[2] = 64;
            }
            for (int c = 0; c < 4; c++) {
                int difference = abs(p[c] - want[c]);
                worst = difference > worst ? difference : worst;
            }
        }
    return worst;
}

int main(int argc, char **argv)
{
    enum level level = floor_level(argc, argv, "egl");
    static const char *const names[] = {"libEGL.so.1", NULL};
    void *library = floor_load("egl", names);
#define EGL_FN(field, name) egl.field = (__typeof__(egl.field))floor_symbol(library, name, "egl")
    EGL_FN(get_proc, "eglGetProcAddress");
    EGL_FN(query_string, "eglQueryString");
    EGL_FN(initialize, "eglInitialize");
    EGL_FN(bind_api, "eglBindAPI");
    EGL_FN(choose_config, "eglChooseConfig");
    EGL_FN(create_context, "eglCreateContext");
    EGL_FN(make_current, "eglMakeCurrent");
    EGL_FN(get_error, "eglGetError");
    egl.query_devices = (PFNEGLQUERYDEVICESEXTPROC)egl.get_proc("eglQueryDevicesEXT");
    egl.platform_display = (PFNEGLGETPLATFORMDISPLAYEXTPROC)egl.get_proc("eglGetPlatformDisplayEXT");
    const char *client = egl.query_string(EGL_NO_DISPLAY, EGL_EXTENSIONS);

    EGLDisplay displays[16];
    int opened = 0;
    if (has(client, "EGL_EXT_platform_device") && egl.query_devices && egl.platform_display) {
        EGLDeviceEXT devices[16];
        EGLint count = 0;
        if (egl.query_devices(16, devices, &count))
            for (EGLint d = 0; d < count && d < 16; d++) {
                EGLDisplay display =
                    egl.platform_display(EGL_PLATFORM_DEVICE_EXT, devices[d], NULL);
                if (display != EGL_NO_DISPLAY && egl.initialize(display, NULL, NULL))
                    displays[opened++] = display;
            }
    }
    if (opened == 0 && has(client, "EGL_MESA_platform_surfaceless") && egl.platform_display) {
        EGLDisplay display = egl.platform_display(EGL_PLATFORM_SURFACELESS_MESA, NULL, NULL);
        if (display != EGL_NO_DISPLAY && egl.initialize(display, NULL, NULL))
            displays[opened++] = display;
    }
    if (opened == 0)
        floor_answer("egl", "absent", "no-device: no EGL display initialises (eglGetError %#x)",
                     (unsigned)egl.get_error());

    char summary[4096] = "";
    for (int d = 0; d < opened; d++) {
        const char *extensions = egl.query_string(displays[d], EGL_EXTENSIONS);
        const char *apis = egl.query_string(displays[d], EGL_CLIENT_APIS);
        int surfaceless = has(extensions, "EGL_KHR_surfaceless_context");
        if (!make_context(displays[d], EGL_OPENGL_ES_API, surfaceless))
            floor_answer("egl", "failed", "launch-failed: no OpenGL ES context (eglGetError %#x)",
                         (unsigned)egl.get_error());
        if (d == 0)
            resolve_gl();
        char gles[256], renderer[256], opengl[256] = "none";
        snprintf(gles, sizeof gles, "%s", (const char *)gl.get_string(GL_VERSION));
        snprintf(renderer, sizeof renderer, "%s", (const char *)gl.get_string(GL_RENDERER));
        if (level == LEVEL_STANDARD) {
            int worst = render();
            if (worst > 1)
                floor_answer("egl", "failed", "wrong-result: a pixel is off by %d", worst);
        }
        if (has(apis, "OpenGL") && make_context(displays[d], EGL_OPENGL_API, surfaceless))
            snprintf(opengl, sizeof opengl, "%s", (const char *)gl.get_string(GL_VERSION));
        size_t used = strlen(summary);
        snprintf(summary + used, sizeof summary - used, "%s%s (%s; %s)", used ? "; " : "", renderer,
                 gles, opengl);
    }
    if (level == LEVEL_QUICK)
        floor_answer("egl", "enumerated", "%d display(s): %s", opened, summary);
    floor_answer("egl", "validated", "%d display(s): %s: render exact", opened, summary);
}
