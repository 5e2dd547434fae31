/* The Vulkan floor: what hwspec's Vulkan worker must do. Load the loader, create an instance
 * (API version min(loader, 1.3), no layers or extensions), list the physical devices with their
 * compute queue, and at standard, on each device: open it, build the committed saxpy.spv into a
 * compute pipeline (no pipeline cache: hwspec keeps none, Mesa's own disk cache is warm), fill
 * host-visible buffers in place, dispatch, wait, and check every element in the mapped memory. */
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "floor.h"

/* hwspec-core/src/backends/vulkan/saxpy.spv, built into this program by assets.S. */
extern const uint32_t floor_saxpy_spv[];
extern const char floor_saxpy_spv_end[];

/* saxpy.comp's local_size_x. */
#define GROUP 256u

static PFN_vkGetInstanceProcAddr get_instance_proc;

#define CHECK(call)                                                                             \
    do {                                                                                        \
        VkResult result_ = (call);                                                              \
        if (result_ != VK_SUCCESS)                                                              \
            floor_answer("vulkan", "failed", "%s returned %d", #call, (int)result_);            \
    } while (0)

static PFN_vkVoidFunction need(VkInstance instance, const char *name)
{
    PFN_vkVoidFunction f = get_instance_proc(instance, name);
    if (!f)
        floor_answer("vulkan", "unusable", "load-failed: %s is missing", name);
    return f;
}
#define INSTANCE_FN(instance, name) PFN_##name name = (PFN_##name)need(instance, #name)

/* The device-level entry points the dispatch needs. */
struct device_fns {
    PFN_vkGetDeviceQueue get_queue;
    PFN_vkCreateBuffer create_buffer;
    PFN_vkGetBufferMemoryRequirements requirements;
    PFN_vkAllocateMemory allocate;
    PFN_vkBindBufferMemory bind;
    PFN_vkMapMemory map;
    PFN_vkCreateShaderModule create_module;
    PFN_vkCreateDescriptorSetLayout create_set_layout;
    PFN_vkCreatePipelineLayout create_layout;
    PFN_vkCreateComputePipelines create_pipelines;
    PFN_vkCreateDescriptorPool create_pool;
    PFN_vkAllocateDescriptorSets allocate_sets;
    PFN_vkUpdateDescriptorSets update_sets;
    PFN_vkCreateCommandPool create_command_pool;
    PFN_vkAllocateCommandBuffers allocate_commands;
    PFN_vkBeginCommandBuffer begin;
    PFN_vkCmdBindPipeline bind_pipeline;
    PFN_vkCmdBindDescriptorSets bind_sets;
    PFN_vkCmdPushConstants push;
    PFN_vkCmdDispatch dispatch;
    PFN_vkCmdPipelineBarrier barrier;
    PFN_vkEndCommandBuffer end;
    PFN_vkCreateFence create_fence;
    PFN_vkQueueSubmit submit;
    PFN_vkWaitForFences wait;
};

static void resolve_device(VkInstance instance, VkDevice device, struct device_fns *fn)
{
    INSTANCE_FN(instance, vkGetDeviceProcAddr);
#define DEVICE_FN(field, name)                                                                  \
    do {                                                                                        \
        fn->field = (__typeof__(fn->field))vkGetDeviceProcAddr(device, name);                   \
        if (!fn->field)                                                                         \
            floor_answer("vulkan", "unusable", "load-failed: %s is missing", name);             \
    } while (0)
    DEVICE_FN(get_queue, "vkGetDeviceQueue");
    DEVICE_FN(create_buffer, "vkCreateBuffer");
    DEVICE_FN(requirements, "vkGetBufferMemoryRequirements");
    DEVICE_FN(allocate, "vkAllocateMemory");
    DEVICE_FN(bind, "vkBindBufferMemory");
    DEVICE_FN(map, "vkMapMemory");
    DEVICE_FN(create_module, "vkCreateShaderModule");
    DEVICE_FN(create_set_layout, "vkCreateDescriptorSetLayout");
    DEVICE_FN(create_layout, "vkCreatePipelineLayout");
    DEVICE_FN(create_pipelines, "vkCreateComputePipelines");
    DEVICE_FN(create_pool, "vkCreateDescriptorPool");
    DEVICE_FN(allocate_sets, "vkAllocateDescriptorSets");
    DEVICE_FN(update_sets, "vkUpdateDescriptorSets");
    DEVICE_FN(create_command_pool, "vkCreateCommandPool");
    DEVICE_FN(allocate_commands, "vkAllocateCommandBuffers");
    DEVICE_FN(begin, "vkBeginCommandBuffer");
    DEVICE_FN(bind_pipeline, "vkCmdBindPipeline");
    DEVICE_FN(bind_sets, "vkCmdBindDescriptorSets");
    DEVICE_FN(push, "vkCmdPushConstants");
    DEVICE_FN(dispatch, "vkCmdDispatch");
    DEVICE_FN(barrier, "vkCmdPipelineBarrier");
    DEVICE_FN(end, "vkEndCommandBuffer");
    DEVICE_FN(create_fence, "vkCreateFence");
    DEVICE_FN(submit, "vkQueueSubmit");
    DEVICE_FN(wait, "vkWaitForFences");
}

/* A host-visible, coherent memory type for `bits`, host-cached where there is one (reads back
 * faster), as hwspec chooses. */
static uint32_t host_memory(const VkPhysicalDeviceMemoryProperties *memory, uint32_t bits)
{
    const VkMemoryPropertyFlags coherent =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (int pass = 0; pass < 2; pass++) {
        VkMemoryPropertyFlags want = pass == 0 ? coherent | VK_MEMORY_PROPERTY_HOST_CACHED_BIT : coherent;
        for (uint32_t i = 0; i < memory->memoryTypeCount; i++)
            if (bits & (1u << i) && (memory->memoryTypes[i].propertyFlags & want) == want)
                return i;
    }
    floor_answer("vulkan", "failed", "no host-visible coherent memory type");
}

/* A storage buffer of the problem's size, bound to host memory, mapped. */
static float *mapped_buffer(VkDevice device, const struct device_fns *fn,
                            const VkPhysicalDeviceMemoryProperties *memory, VkBuffer *buffer)
{
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = SAXPY_N * sizeof(float),
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    CHECK(fn->create_buffer(device, &info, NULL, buffer));
    VkMemoryRequirements needs;
    fn->requirements(device, *buffer, &needs);
    VkMemoryAllocateInfo allocation = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = needs.size,
        .memoryTypeIndex = host_memory(memory, needs.memoryTypeBits),
    };
    VkDeviceMemory storage;
    CHECK(fn->allocate(device, &allocation, NULL, &storage));
    CHECK(fn->bind(device, *buffer, storage, 0));
    void *host;
    CHECK(fn->map(device, storage, 0, VK_WHOLE_SIZE, 0, &host));
    return host;
}

static void validate(VkInstance instance, VkPhysicalDevice physical, uint32_t family)
{
    INSTANCE_FN(instance, vkCreateDevice);
    INSTANCE_FN(instance, vkGetPhysicalDeviceMemoryProperties);
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo device_info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue_info,
    };
    VkDevice device;
    CHECK(vkCreateDevice(physical, &device_info, NULL, &device));
    struct device_fns fn;
    resolve_device(instance, device, &fn);
    VkQueue queue;
    fn.get_queue(device, family, 0, &queue);
    VkPhysicalDeviceMemoryProperties memory;
    vkGetPhysicalDeviceMemoryProperties(physical, &memory);

    VkBuffer x_buffer, y_buffer;
    float *x = mapped_buffer(device, &fn, &memory, &x_buffer);
    float *y = mapped_buffer(device, &fn, &memory, &y_buffer);
    saxpy_fill(x, y, SAXPY_N);

    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = (size_t)(floor_saxpy_spv_end - (const char *)floor_saxpy_spv),
        .pCode = floor_saxpy_spv,
    };
    VkShaderModule module;
    CHECK(fn.create_module(device, &module_info, NULL, &module));
    VkDescriptorSetLayoutBinding bindings[2];
    for (uint32_t b = 0; b < 2; b++)
        bindings[b] = (VkDescriptorSetLayoutBinding){
            .binding = b,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo set_layout_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = 2,
        .pBindings = bindings,
    };
    VkDescriptorSetLayout set_layout;
    CHECK(fn.create_set_layout(device, &set_layout_info, NULL, &set_layout));
    VkPushConstantRange push_range = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .size = 8,
    };
    VkPipelineLayoutCreateInfo layout_info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &push_range,
    };
    VkPipelineLayout layout;
    CHECK(fn.create_layout(device, &layout_info, NULL, &layout));
    VkComputePipelineCreateInfo pipeline_info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage =
            {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
            },
        .layout = layout,
    };
    VkPipeline pipeline;
    CHECK(fn.create_pipelines(device, VK_NULL_HANDLE, 1, &pipeline_info, NULL, &pipeline));

    VkDescriptorPoolSize pool_size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2};
    VkDescriptorPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = 1,
        .poolSizeCount = 1,
        .pPoolSizes = &pool_size,
    };
    VkDescriptorPool pool;
    CHECK(fn.create_pool(device, &pool_info, NULL, &pool));
    VkDescriptorSetAllocateInfo set_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &set_layout,
    };
    VkDescriptorSet set;
    CHECK(fn.allocate_sets(device, &set_info, &set));
    VkDescriptorBufferInfo buffer_infos[2] = {
        {x_buffer, 0, VK_WHOLE_SIZE},
        {y_buffer, 0, VK_WHOLE_SIZE},
    };
    VkWriteDescriptorSet writes[2];
    for (uint32_t b = 0; b < 2; b++)
        writes[b] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = b,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &buffer_infos[b],
        };
    fn.update_sets(device, 2, writes, 0, NULL);

    VkCommandPoolCreateInfo command_pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
        .queueFamilyIndex = family,
    };
    VkCommandPool command_pool;
    CHECK(fn.create_command_pool(device, &command_pool_info, NULL, &command_pool));
    VkCommandBufferAllocateInfo command_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = command_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkCommandBuffer commands;
    CHECK(fn.allocate_commands(device, &command_info, &commands));
    VkCommandBufferBeginInfo begin_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    CHECK(fn.begin(commands, &begin_info));
    fn.bind_pipeline(commands, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    fn.bind_sets(commands, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, NULL);
    struct {
        float a;
        uint32_t n;
    } constants = {SAXPY_A, (uint32_t)SAXPY_N};
    fn.push(commands, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof constants, &constants);
    fn.dispatch(commands, ((uint32_t)SAXPY_N + GROUP - 1) / GROUP, 1, 1);
    VkMemoryBarrier to_host = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    fn.barrier(commands, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
               &to_host, 0, NULL, 0, NULL);
    CHECK(fn.end(commands));
    VkFenceCreateInfo fence_info = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    CHECK(fn.create_fence(device, &fence_info, NULL, &fence));
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &commands,
    };
    CHECK(fn.submit(queue, 1, &submit, fence));
    CHECK(fn.wait(device, 1, &fence, VK_TRUE, 20ull * 1000 * 1000 * 1000));
    size_t wrong = saxpy_wrong(y, SAXPY_N);
    if (wrong)
        floor_answer("vulkan", "failed", "wrong-result: %zu of %zu elements differ", wrong,
                     SAXPY_N);
}

int main(int argc, char **argv)
{
    enum level level = floor_level(argc, argv, "vulkan");
    static const char *const names[] = {"libvulkan.so.1", NULL};
    void *library = floor_load("vulkan", names);
    get_instance_proc = (PFN_vkGetInstanceProcAddr)floor_symbol(library, "vkGetInstanceProcAddr", "vulkan");

    uint32_t api = VK_API_VERSION_1_0;
    PFN_vkEnumerateInstanceVersion instance_version =
        (PFN_vkEnumerateInstanceVersion)get_instance_proc(NULL, "vkEnumerateInstanceVersion");
    if (instance_version)
        CHECK(instance_version(&api));
    if (api > VK_API_VERSION_1_3)
        api = VK_API_VERSION_1_3;
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "hwspec-floor",
        .apiVersion = api,
    };
    VkInstanceCreateInfo instance_info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
    };
    INSTANCE_FN(VK_NULL_HANDLE, vkCreateInstance);
    VkInstance instance;
    VkResult created = vkCreateInstance(&instance_info, NULL, &instance);
    if (created == VK_ERROR_INCOMPATIBLE_DRIVER)
        floor_answer("vulkan", "absent", "no-device: no Vulkan driver could be loaded");
    CHECK(created);
    INSTANCE_FN(instance, vkEnumeratePhysicalDevices);
    INSTANCE_FN(instance, vkGetPhysicalDeviceProperties);
    INSTANCE_FN(instance, vkGetPhysicalDeviceQueueFamilyProperties);
    VkPhysicalDevice devices[16];
    uint32_t count = 16;
    VkResult listed = vkEnumeratePhysicalDevices(instance, &count, devices);
    if (listed != VK_SUCCESS && listed != VK_INCOMPLETE)
        CHECK(listed);
    if (count == 0)
        floor_answer("vulkan", "absent", "no-device: the loader found no physical device");

    char summary[4096] = "";
    for (uint32_t d = 0; d < count; d++) {
        VkPhysicalDeviceProperties properties;
        vkGetPhysicalDeviceProperties(devices[d], &properties);
        VkQueueFamilyProperties families[32];
        uint32_t family_count = 32;
        vkGetPhysicalDeviceQueueFamilyProperties(devices[d], &family_count, families);
        uint32_t family = UINT32_MAX;
        for (uint32_t f = 0; f < family_count && family == UINT32_MAX; f++)
            if (families[f].queueCount > 0 && families[f].queueFlags & VK_QUEUE_COMPUTE_BIT)
                family = f;
        if (family == UINT32_MAX)
            floor_answer("vulkan", "unusable", "%s has no compute queue", properties.deviceName);
        if (level == LEVEL_STANDARD)
            validate(instance, devices[d], family);
        size_t used = strlen(summary);
        snprintf(summary + used, sizeof summary - used, "%s%s (%u.%u.%u)", used ? "; " : "",
                 properties.deviceName, VK_API_VERSION_MAJOR(properties.apiVersion),
                 VK_API_VERSION_MINOR(properties.apiVersion),
                 VK_API_VERSION_PATCH(properties.apiVersion));
    }
    if (level == LEVEL_QUICK)
        floor_answer("vulkan", "enumerated", "%u device(s): %s", count, summary);
    floor_answer("vulkan", "validated", "%u device(s): %s: saxpy exact", count, summary);
}
